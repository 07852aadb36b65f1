using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace Graph.Fuzz;

/// <summary>
/// dotnet run -c Release --project tests/Graph.Fuzz -- --graphs N --seed S [--engines a,b] [--max-ops K]
///     [--no-shrink] [--no-save] [--replay] [--verbose]
/// The last line is exactly "N graphs, M mismatches" (M counts graph-engine pairs that disagree with the
/// float64 reference interpreter); the exit code is 1 when M > 0.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var o = new FuzzOptions();
        string[]? engineNames = null;
        bool save = true, replay = false;
        string? recipePath = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--graphs": o.Graphs = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--seed": o.Seed = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--engines": engineNames = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--max-ops": o.MaxOps = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--shrink-budget": o.ShrinkBudget = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--no-shrink": o.Shrink = false; break;
                case "--no-save": save = false; break;
                case "--replay": replay = true; break;
                case "--recipe": recipePath = Value(); break;
                case "--graph-seeds":
                    o.GraphSeeds = Value().Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToList();
                    o.Graphs = o.GraphSeeds.Count;
                    break;
                case "--verbose": o.Verbose = true; break;
                case "--help":
                case "-h":
                    Console.WriteLine("usage: Graph.Fuzz --graphs N --seed S [--engines " + string.Join(",", EngineRegistry.All().Select(e => e.Name)) + "] [--max-ops K] [--no-shrink] [--no-save] [--graph-seeds G1,G2] [--replay] [--recipe FILE] [--verbose]");
                    return 0;
                default:
                    Console.Error.WriteLine($"unknown argument {args[i]}");
                    return 2;
            }
        }
        // Unavailable engines are left out without a word; the line below says which ran.
        o.Engines = EngineRegistry.All().Where(e => e.Unavailable is null && (engineNames is null || engineNames.Contains(e.Name))).ToList();
        Console.WriteLine($"engines: {string.Join(", ", o.Engines.Select(e => e.Name))} (reference {EngineRegistry.Reference})");
        if (save) o.RegressionDirectory = Regressions.FindSourceDirectory();

        int graphs = 0, mismatches = 0;
        if (recipePath is not null)
        {
            // One recipe file (a saved regression or a hand-written one): print its graph and every engine's verdict.
            var recipe = Recipe.Parse(System.IO.File.ReadAllText(recipePath));
            Console.Write(Ir.GraphPrinter.Print(RecipeBuilder.Build(recipe).Model.Graph));
            var reference = EngineRegistry.ReferenceEngine();
            var c = new FuzzCase(recipe);
            foreach (var engine in o.Engines) engine.Prepare(new[] { c });
            foreach (var engine in o.Engines)
            {
                try
                {
                    var problems = Tolerance.Compare(reference.Run(c), engine.Run(c));
                    Console.WriteLine($"{engine.Name}: " + (problems.Count == 0 ? "agrees" : string.Join("\n  ", problems)));
                    mismatches += problems.Count > 0 ? 1 : 0;
                }
                catch (EngineUnsupportedException e) { Console.WriteLine($"{engine.Name}: unsupported: {e.Message}"); }
                catch (Exception e) { Console.WriteLine($"{engine.Name}: {e}"); mismatches++; }
            }
            graphs = 1;
        }
        else if (replay)
        {
            var dir = Regressions.FindSourceDirectory();
            foreach (var (name, recipe) in dir is null ? Enumerable.Empty<(string, Recipe)>() : Regressions.Load(dir))
            {
                graphs++;
                var found = Fuzzer.Check(new FuzzCase(recipe), EngineRegistry.ReferenceEngine(), o.Engines);
                foreach (var m in found) Console.WriteLine($"MISMATCH {name}, engine {m.Engine}: {m.Detail}");
                mismatches += found.Count;
            }
        }
        else
        {
            var summary = Fuzzer.Run(o);
            graphs = summary.Graphs;
            mismatches = summary.Mismatches;
            foreach (var (engine, count) in summary.Unsupported.OrderBy(k => k.Key)) Console.WriteLine($"{engine}: {count} graphs unsupported (skipped)");
            if (o.Verbose)
                foreach (var (reason, count) in summary.UnsupportedReasons.OrderByDescending(k => k.Value)) Console.WriteLine($"  {count} × {reason}");
            foreach (var (engine, count) in summary.Ran.OrderBy(k => k.Key))
                Console.WriteLine($"{engine}: ran {count} graphs, worst error {summary.WorstUsage.GetValueOrDefault(engine).ToString("G3", CultureInfo.InvariantCulture)} of the tolerance");
            if (o.Verbose)
                Console.WriteLine("ops: " + string.Join(", ", summary.OpCounts.OrderByDescending(k => k.Value).Select(k => $"{k.Key} {k.Value}")));
        }
        Console.WriteLine($"{graphs} graphs, {mismatches} mismatches");
        return mismatches > 0 ? 1 : 0;
    }
}
