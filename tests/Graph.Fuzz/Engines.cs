using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Passes;

namespace Graph.Fuzz;

/// <summary>
/// A graph to run: the recipe, a factory for fresh builders (engines may mutate them), the fed values, batch and seed.
/// Result keys: "train:output", "train:loss", "train:grad:NAME", "train:state:NAME" (the state a training step
/// writes), and the same with "eval:". An engine reports the keys it can compute; only common keys are compared.
/// </summary>
public sealed class FuzzCase
{
    public FuzzCase(Recipe recipe, string name = "fuzz")
    {
        Recipe = recipe;
        Name = name;
        var built = RecipeBuilder.Build(recipe, name);
        Feeds = built.Feeds();
        LabelClasses = built.LabelClasses;
        HasOutput = built.HasOutput;
    }

    public Recipe Recipe { get; }
    public string Name { get; }
    public int Batch => Recipe.Batch;
    public ulong Seed => Recipe.Seed;
    public bool HasOutput { get; }
    public Dictionary<string, TensorValue> Feeds { get; }
    public Dictionary<string, int> LabelClasses { get; }

    /// <summary>A fresh builder with the loss and prediction declared (no gradients).</summary>
    public ModelBuilder Build() => RecipeBuilder.Build(Recipe, Name).Model;

    /// <summary>A fresh graph with "grad:NAME" outputs for every parameter.</summary>
    public ComputeGraph GraphWithGradients()
    {
        var m = Build();
        m.AddParameterGradients();
        return m.Graph;
    }
}

/// <summary>Thrown by an engine for a graph it does not support (not a mismatch; counted as skipped).</summary>
public sealed class EngineUnsupportedException : Exception
{
    public EngineUnsupportedException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// A backend under test. Adding one (the IL JIT) is one class: implement <see cref="Run"/> and register it
/// in <see cref="EngineRegistry"/>. <see cref="Prepare"/> lets compiling engines batch their work.
/// </summary>
public interface IEngine
{
    string Name { get; }
    /// <summary>Null when the engine can run here, else why not.</summary>
    string? Unavailable { get; }
    /// <summary>Optional: compile all of <paramref name="cases"/> at once before <see cref="Run"/> is called on each.</summary>
    void Prepare(IReadOnlyList<FuzzCase> cases) { }
    /// <summary>Runs one case; throws <see cref="EngineUnsupportedException"/> for graphs it does not handle.</summary>
    Dictionary<string, double[]> Run(FuzzCase c);
}

/// <summary>The reference interpreter (optionally after the core passes), in float64 or rounding every op to float32.</summary>
public sealed class InterpreterEngine : IEngine
{
    public InterpreterEngine(string name, Precision precision, bool optimize = false, Func<ComputeGraph, ComputeGraph>? rewrite = null)
    {
        Name = name;
        Precision = precision;
        Optimize = optimize;
        Rewrite = rewrite;
    }

    public string Name { get; }
    public Precision Precision { get; }
    public bool Optimize { get; }
    /// <summary>A graph rewrite applied before running (the shrinker's tests plant bugs with it).</summary>
    public Func<ComputeGraph, ComputeGraph>? Rewrite { get; }
    public string? Unavailable => null;

    public Dictionary<string, double[]> Run(FuzzCase c)
    {
        var graph = c.GraphWithGradients();
        if (Rewrite is not null) graph = Rewrite(graph);
        var results = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var mode in new[] { Mode.Train, Mode.Eval })
        {
            var g = Optimize ? PassPipeline.Optimize(graph, mode, validate: true) : graph;
            var outputs = Interpreter.Run(g, c.Feeds, mode, Precision, c.Seed, 0);
            string prefix = mode == Mode.Train ? "train:" : "eval:";
            foreach (var (name, value) in outputs)
            {
                if (name.StartsWith("state:", StringComparison.Ordinal) && mode == Mode.Eval) continue;
                results[prefix + name] = value.Data;
            }
        }
        return results;
    }
}

/// <summary>The engines the fuzzer knows, by name.</summary>
public static class EngineRegistry
{
    public const string Reference = "interp-f64";

    public static IEngine ReferenceEngine() => new InterpreterEngine(Reference, Precision.Float64);

    /// <summary>Every engine other than the reference.</summary>
    public static List<IEngine> All() => new()
    {
        new InterpreterEngine("interp-f32", Precision.Float32),
        new InterpreterEngine("passes-f64", Precision.Float64, optimize: true),
        new CSharpEngine(),
        new IlJitEngine(),
    };
}
