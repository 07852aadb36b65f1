using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Graph.Ir;

namespace Graph.Fuzz;

public sealed record Mismatch(string Engine, string Detail, bool Crash);

public sealed class FuzzOptions
{
    public int Graphs { get; set; } = 100;
    public int Seed { get; set; } = 1;
    public int MaxOps { get; set; } = 14;
    public List<IEngine> Engines { get; set; } = new();
    public bool Shrink { get; set; } = true;
    public int ShrinkBudget { get; set; } = 300;
    /// <summary>Where shrunk mismatches are saved (null: not saved).</summary>
    public string? RegressionDirectory { get; set; }
    public TextWriter Log { get; set; } = Console.Out;
    public bool Verbose { get; set; }
    /// <summary>Graphs per batch handed to <see cref="IEngine.Prepare"/>.</summary>
    public int Chunk { get; set; } = 25;
    /// <summary>Explicit graph seeds (as printed with a mismatch) instead of --seed's sequence.</summary>
    public List<int>? GraphSeeds { get; set; }
}

public sealed class FuzzSummary
{
    public int Graphs { get; set; }
    public int Mismatches { get; set; }
    public Dictionary<string, int> Unsupported { get; } = new();
    public Dictionary<string, int> UnsupportedReasons { get; } = new();
    public Dictionary<string, int> Ran { get; } = new();
    public List<(int Graph, Mismatch Mismatch, Recipe Shrunk)> Found { get; } = new();
    public Dictionary<string, int> OpCounts { get; } = new();
    /// <summary>Per engine: the largest share of the tolerance a compared tensor used (1 = at the bound).</summary>
    public Dictionary<string, double> WorstUsage { get; } = new();
}

/// <summary>Generates graphs, runs every engine against the reference, shrinks and saves what mismatches.</summary>
public static class Fuzzer
{
    public static int GraphSeed(int seed, int index) => unchecked(seed * 1_000_003 + index);

    private static int SeedOf(FuzzOptions o, int index) => o.GraphSeeds is { } seeds ? seeds[index] : GraphSeed(o.Seed, index);

    /// <summary>Runs <paramref name="engines"/> on <paramref name="c"/> and compares each to the reference.</summary>
    public static List<Mismatch> Check(FuzzCase c, IEngine reference, IEnumerable<IEngine> engines, ICollection<string>? unsupported = null, ICollection<string>? ran = null,
        IDictionary<string, double>? usage = null)
    {
        var mismatches = new List<Mismatch>();
        Dictionary<string, double[]> expected;
        try { expected = reference.Run(c); }
        catch (Exception e) { return new List<Mismatch> { new(reference.Name, "reference failed: " + e.GetType().Name + ": " + e.Message, true) }; }
        foreach (var engine in engines)
        {
            Dictionary<string, double[]> actual;
            try { actual = engine.Run(c); }
            catch (EngineUnsupportedException e) { unsupported?.Add(engine.Name + "\t" + e.Message); continue; }
            catch (Exception e)
            {
                mismatches.Add(new Mismatch(engine.Name, "crashed: " + e.GetType().Name + ": " + FirstLine(e.Message), true));
                continue;
            }
            ran?.Add(engine.Name);
            if (usage is not null) usage[engine.Name] = Tolerance.WorstUsage(expected, actual);
            var problems = Tolerance.Compare(expected, actual);
            if (problems.Count > 0) mismatches.Add(new Mismatch(engine.Name, string.Join("\n    ", problems.Take(4)) + (problems.Count > 4 ? $"\n    ... {problems.Count - 4} more" : ""), false));
        }
        return mismatches;
    }

    private static string FirstLine(string s)
    {
        int i = s.IndexOf('\n');
        return i < 0 ? s : s[..i] + " ...";
    }

    public static FuzzSummary Run(FuzzOptions o)
    {
        var log = o.Log;
        var reference = EngineRegistry.ReferenceEngine();
        var summary = new FuzzSummary();
        var clock = Stopwatch.StartNew();
        for (int start = 0; start < o.Graphs; start += o.Chunk)
        {
            int count = Math.Min(o.Chunk, o.Graphs - start);
            var cases = new FuzzCase[count];
            System.Threading.Tasks.Parallel.For(0, count, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
            {
                int seed = SeedOf(o, start + i);
                cases[i] = new FuzzCase(Generator.Generate(seed, o.MaxOps), "fuzz_" + (uint)seed);
            });
            foreach (var engine in o.Engines)
            {
                try { engine.Prepare(cases); }
                catch (Exception e) { log.WriteLine($"{engine.Name}: preparing graphs {start}..{start + count - 1} failed: {e.GetType().Name}: {e.Message}"); }
            }
            var results = new List<Mismatch>[count];
            var unsupported = new List<string>[count];
            var ran = new List<string>[count];
            var usage = new Dictionary<string, double>[count];
            System.Threading.Tasks.Parallel.For(0, count, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
            {
                unsupported[i] = new List<string>();
                ran[i] = new List<string>();
                usage[i] = new Dictionary<string, double>();
                results[i] = Check(cases[i], reference, o.Engines, unsupported[i], ran[i], usage[i]);
            });
            for (int i = 0; i < count; i++)
            {
                int index = start + i;
                summary.Graphs++;
                foreach (var ins in cases[i].Recipe.Instrs) summary.OpCounts[ins.Op] = summary.OpCounts.GetValueOrDefault(ins.Op) + 1;
                foreach (var u in unsupported[i])
                {
                    var (engineName, reason) = (u.Split('\t')[0], u.Split('\t')[1]);
                    summary.Unsupported[engineName] = summary.Unsupported.GetValueOrDefault(engineName) + 1;
                    // Node references and model names vary; the rest of the message says what is missing.
                    reason = System.Text.RegularExpressions.Regex.Replace(reason, @"%\d+|'fuzz_\d+'|\[[^\]]*\]", "…");
                    summary.UnsupportedReasons[engineName + ": " + reason] = summary.UnsupportedReasons.GetValueOrDefault(engineName + ": " + reason) + 1;
                }
                foreach (var r in ran[i]) summary.Ran[r] = summary.Ran.GetValueOrDefault(r) + 1;
                foreach (var (e, u) in usage[i]) if (!(u <= summary.WorstUsage.GetValueOrDefault(e))) summary.WorstUsage[e] = u;
                if (o.Verbose) log.WriteLine($"graph {index} (seed {SeedOf(o, index)}): {cases[i].Recipe.OpCount} ops, batch {cases[i].Batch}" + (results[i].Count == 0 ? ", ok" : ""));
                foreach (var m in results[i])
                {
                    summary.Mismatches++;
                    log.WriteLine($"MISMATCH graph {index} ({(o.GraphSeeds is null ? $"--seed {o.Seed}, " : "")}graph seed {SeedOf(o, index)}; replay: --graph-seeds {SeedOf(o, index)}), engine {m.Engine}: {m.Detail}");
                    var shrunk = cases[i].Recipe;
                    if (o.Shrink)
                    {
                        var engine = m.Engine == reference.Name ? null : o.Engines.First(e => e.Name == m.Engine);
                        shrunk = Shrinker.Shrink(cases[i].Recipe, r => Shrinker.StillFails(r, reference, engine, m.Crash), o.ShrinkBudget);
                        log.WriteLine($"  shrunk from {cases[i].Recipe.OpCount} to {shrunk.OpCount} ops:");
                    }
                    var text = Describe(shrunk, reference, m.Engine == reference.Name ? null : o.Engines.First(e => e.Name == m.Engine));
                    foreach (var line in text.Split('\n')) if (line.Length > 0) log.WriteLine("  " + line);
                    summary.Found.Add((index, m, shrunk));
                    if (o.RegressionDirectory is string dir)
                    {
                        var path = Regressions.Save(dir, m.Engine, SeedOf(o, index), shrunk, text);
                        log.WriteLine($"  saved {path}");
                    }
                }
            }
        }
        if (o.Verbose) log.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s");
        return summary;
    }

    /// <summary>The recipe, its forward graph in IR text, and what each engine says about it.</summary>
    public static string Describe(Recipe recipe, IEngine reference, IEngine? engine)
    {
        var sb = new System.Text.StringBuilder();
        try
        {
            var c = new FuzzCase(recipe);
            sb.Append(GraphPrinter.Print(RecipeBuilder.Build(recipe).Model.Graph));
            var mismatches = Check(c, reference, engine is null ? Array.Empty<IEngine>() : new[] { engine });
            foreach (var m in mismatches) sb.Append($"{m.Engine}: {m.Detail}\n");
        }
        catch (Exception e) { sb.Append("(cannot build: " + e.Message + ")\n"); }
        return sb.ToString();
    }
}
