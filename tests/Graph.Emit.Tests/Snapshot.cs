using System;
using System.IO;
using System.Runtime.CompilerServices;

namespace Graph.Tests;

/// <summary>
/// Plain-text snapshots in <c>__snapshots__/NAME.snap</c> beside the calling test file. A changed
/// snapshot fails and writes NAME.received.snap for diffing. A missing one fails under CI=true and is
/// created otherwise (so a developer reviews and commits it).
/// </summary>
public static class Snapshot
{
    public static void Match(string actual, string name, [CallerFilePath] string callerFile = "")
    {
        string directory = Path.Combine(Path.GetDirectoryName(callerFile)!, "__snapshots__");
        string path = Path.Combine(directory, name + ".snap");
        string normalized = actual.Replace("\r\n", "\n");
        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (!File.Exists(path))
        {
            if (ci) throw new Xunit.Sdk.XunitException($"Snapshot {name}.snap is missing (CI=true forbids creating it).");
            Directory.CreateDirectory(directory);
            File.WriteAllText(path, normalized);
            return;
        }
        string expected = File.ReadAllText(path).Replace("\r\n", "\n");
        string received = Path.Combine(directory, name + ".received.snap");
        if (expected != normalized)
        {
            File.WriteAllText(received, normalized);
            throw new Xunit.Sdk.XunitException($"Snapshot {name}.snap differs; see {received}.\n{FirstDifference(expected, normalized)}");
        }
        if (File.Exists(received)) File.Delete(received);
    }

    private static string FirstDifference(string expected, string actual)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        for (int i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            string el = i < e.Length ? e[i] : "<end>", al = i < a.Length ? a[i] : "<end>";
            if (el != al) return $"line {i + 1}:\n  expected: {el}\n  actual:   {al}";
        }
        return "";
    }
}
