using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Graph.Fuzz;

/// <summary>
/// Saved mismatches: one text file per shrunk case under tests/Graph.Fuzz/regressions/, holding the recipe
/// (replayable with <see cref="Recipe.Parse"/>) after '#' comment lines with the engine, the graph seed, the IR
/// text of the graph and the mismatch as first seen.
/// </summary>
public static class Regressions
{
    public static string Save(string directory, string engine, int graphSeed, Recipe recipe, string description)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, $"{engine}-{(uint)graphSeed}.txt");
        var lines = new List<string>
        {
            "# engine-differential fuzzer regression case",
            $"# engine: {engine}",
            $"# graph seed: {(uint)graphSeed}",
        };
        lines.AddRange(description.Split('\n').Where(l => l.Length > 0).Select(l => "# " + l));
        File.WriteAllText(path, string.Join("\n", lines) + "\n" + recipe.Format());
        return path;
    }

    /// <summary>Every saved case: file name and recipe.</summary>
    public static IEnumerable<(string Name, Recipe Recipe)> Load(string directory)
    {
        if (!Directory.Exists(directory)) yield break;
        foreach (var path in Directory.GetFiles(directory, "*.txt").OrderBy(p => p, StringComparer.Ordinal))
            yield return (Path.GetFileName(path), Recipe.Parse(File.ReadAllText(path)));
    }

    /// <summary>The source tree's regressions folder (walking up from the working directory or the binary), or null.</summary>
    public static string? FindSourceDirectory()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tests", "Graph.Fuzz", "regressions");
                if (Directory.Exists(candidate)) return candidate;
            }
        }
        return null;
    }
}
