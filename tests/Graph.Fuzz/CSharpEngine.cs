using System;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Graph.Fuzz;

/// <summary>
/// What the fuzzer needs from a compiled model, with arrays only. A driver class is generated next to each
/// emitted model and compiled with it, so this assembly does not bind to one version of ICompiledModel.
/// </summary>
public interface ICompiledDriver
{
    int OutputSize { get; }
    bool IsTraining { get; set; }
    void SetFloats(string kind, string name, float[] data);
    void SetLabels(string name, int[] data);
    float[] Get(string kind, string name);
    void Predict(int batch, float[] output);
    float Loss(int batch);
    float ComputeGradients(int batch);
    /// <summary>A training step with learning rate 0: parameters stay, states take their updates.</summary>
    float StateStep(int batch);
}

/// <summary>
/// The C# emitter (Graph.Emit.ModelEmitter, found by reflection so this engine lights up when the emitter is
/// merged) compiled in-process with Roslyn, as Graph.Emit.Tests does. Models of one batch of graphs are compiled
/// together (one Roslyn compilation per chunk; a chunk that fails falls back to one compilation per graph).
/// Keys: eval and train output and loss, train gradients, and the states after a zero-learning-rate step.
/// </summary>
public sealed class CSharpEngine : IEngine
{
    private static readonly Type? s_emitter = typeof(ModelBuilder).Assembly.GetType("Graph.Emit.ModelEmitter");
    private static readonly Type? s_target = typeof(ModelBuilder).Assembly.GetType("Graph.Emit.EmitTarget");
    private static readonly Lazy<MetadataReference[]> s_references = new(() =>
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator).ToList();
        paths.Add(typeof(Graph.Runtime.Optimizers.Sgd).Assembly.Location);
        paths.Add(typeof(ICompiledDriver).Assembly.Location);
        return paths.Distinct().Where(File.Exists).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToArray();
    });

    private readonly ConditionalWeakTable<FuzzCase, Func<ICompiledDriver>> _compiled = new();
    private readonly ConcurrentDictionary<FuzzCase, Exception> _failed = new();
    private int _counter;

    public string Name => "csharp";

    public string? Unavailable => s_emitter is null || s_target is null ? "the C# emitter (Graph.Emit.ModelEmitter) is not in Graph.Core" : null;

    /// <summary>The emitted C# for one graph (throws NotSupportedException for what the emitter does not lower).</summary>
    public static string Emit(ModelBuilder builder, string ns, string className)
    {
        var target = Activator.CreateInstance(s_target!, ns, className, "public", (IReadOnlyList<string>)Array.Empty<string>())!;
        var emit = s_emitter!.GetMethod("Emit", new[] { typeof(ModelBuilder), s_target! })!;
        try { return (string)emit.Invoke(null, new[] { builder, target })!; }
        catch (TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    public void Prepare(IReadOnlyList<FuzzCase> cases)
    {
        var sources = new List<(FuzzCase Case, string Namespace, string Code)>();
        foreach (var c in cases)
        {
            if (_compiled.TryGetValue(c, out _)) continue;
            string ns = "Fuzz.G" + System.Threading.Interlocked.Increment(ref _counter).ToString(CultureInfo.InvariantCulture);
            try { sources.Add((c, ns, Emit(c.Build(), ns, "M") + Driver(ns))); }
            catch (Exception e) { _failed[c] = e; }
        }
        if (sources.Count == 0) return;
        try
        {
            var assembly = Compile(sources.Select(s => s.Code));
            foreach (var s in sources) Register(s.Case, assembly, s.Namespace);
        }
        catch (InvalidOperationException) when (sources.Count > 1)
        {
            foreach (var s in sources)
            {
                try { Register(s.Case, Compile(new[] { s.Code }), s.Namespace); }
                catch (InvalidOperationException e) { _failed[s.Case] = e; }
            }
        }
        catch (InvalidOperationException e)
        {
            _failed[sources[0].Case] = e;
        }
    }

    private void Register(FuzzCase c, Assembly assembly, string ns)
    {
        var type = assembly.GetType(ns + ".Driver", throwOnError: true)!;
        int batch = c.Batch;
        ulong seed = c.Seed;
        _compiled.AddOrUpdate(c, () => (ICompiledDriver)Activator.CreateInstance(type, batch, seed)!);
    }

    public Dictionary<string, double[]> Run(FuzzCase c)
    {
        if (!_compiled.TryGetValue(c, out var factory))
        {
            if (!_failed.TryGetValue(c, out var failure)) { Prepare(new[] { c }); _failed.TryGetValue(c, out failure); }
            if (failure is NotSupportedException) throw new EngineUnsupportedException(failure.Message, failure);
            if (failure is not null) throw failure;
            if (!_compiled.TryGetValue(c, out factory)) throw new InvalidOperationException("not compiled");
        }
        var model = factory();
        var graph = c.Build().Graph;
        foreach (var node in graph.Nodes)
        {
            if (node.Op is not Graph.Ops.LeafOp leaf) continue;
            var value = c.Feeds[leaf.LeafName].Data;
            switch (node.Op)
            {
                case Graph.Ops.InputOp when node.DType == DType.Int32: model.SetLabels(leaf.LeafName, value.Select(v => (int)v).ToArray()); break;
                case Graph.Ops.InputOp: model.SetFloats("input", leaf.LeafName, value.Select(v => (float)v).ToArray()); break;
                case Graph.Ops.ParameterOp: model.SetFloats("param", leaf.LeafName, value.Select(v => (float)v).ToArray()); break;
                case Graph.Ops.StateOp: model.SetFloats("state", leaf.LeafName, value.Select(v => (float)v).ToArray()); break;
            }
        }
        var results = new Dictionary<string, double[]>(StringComparer.Ordinal);
        static double[] D(float[] v) => v.Select(x => (double)x).ToArray();
        var output = c.HasOutput ? new float[model.OutputSize * c.Batch] : null;
        foreach (bool training in new[] { false, true })
        {
            string prefix = training ? "train:" : "eval:";
            model.IsTraining = training;
            if (output is not null)
            {
                model.Predict(c.Batch, output);
                results[prefix + "output"] = D(output);
            }
            results[prefix + "loss"] = new double[] { model.Loss(c.Batch) };
        }
        model.IsTraining = false;
        float gradLoss = model.ComputeGradients(c.Batch);
        results["train:loss (ComputeGradients)"] = new double[] { gradLoss };
        foreach (var p in graph.Parameters)
        {
            string name = ((Graph.Ops.LeafOp)p.Op).LeafName;
            results["train:grad:" + name] = D(model.Get("grad", name));
        }
        var states = graph.Nodes.Where(n => n.Op is Graph.Ops.StateOp).Select(n => ((Graph.Ops.LeafOp)n.Op).LeafName).ToList();
        if (states.Count > 0)
        {
            model.StateStep(c.Batch);
            foreach (var s in states) results["train:state:" + s] = D(model.Get("state", s));
        }
        return results;
    }

    private static string Driver(string ns) => $$"""

        namespace {{ns}}
        {
            public sealed class Driver : global::Graph.Fuzz.ICompiledDriver
            {
                private readonly M _m;
                public Driver(int maxBatch, ulong seed) { _m = new M(maxBatch, seed); }
                public int OutputSize => _m.OutputSize;
                public bool IsTraining { get => _m.IsTraining; set => _m.IsTraining = value; }
                public void SetFloats(string kind, string name, float[] data)
                {
                    if (kind == "input") global::System.MemoryExtensions.AsSpan(data).CopyTo(S(_m.InputBuffer(name)));
                    else global::System.MemoryExtensions.AsSpan(data).CopyTo(S(kind == "param" ? _m.Parameter(name) : _m.State(name)));
                }
                // Parameter and state access is Memory<float> or Span<float> depending on the ICompiledModel version.
                private static global::System.Span<float> S(global::System.Span<float> s) => s;
                private static global::System.Span<float> S(global::System.Memory<float> m) => m.Span;
                public void SetLabels(string name, int[] data) => global::System.MemoryExtensions.AsSpan(data).CopyTo(_m.LabelBuffer(name));
                public float[] Get(string kind, string name) => (kind == "grad" ? _m.Gradient(name) : kind == "state" ? _m.State(name) : _m.Parameter(name)).ToArray();
                public void Predict(int batch, float[] output) => _m.Predict(batch, output);
                public float Loss(int batch) => _m.Loss(batch);
                public float ComputeGradients(int batch) => _m.ComputeGradients(batch);
                public float StateStep(int batch)
                {
                    _m.Optimizer = new global::Graph.Runtime.Optimizers.Sgd(0f);
                    return _m.TrainStep(batch);
                }
            }
        }
        """;

    private static Assembly Compile(IEnumerable<string> sources)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var trees = sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, parse, path: $"gen{i}.cs")).ToArray();
        var compilation = CSharpCompilation.Create("Fuzz" + Guid.NewGuid().ToString("N"), trees, s_references.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release,
                allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable, concurrentBuild: true));
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        if (!result.Success)
        {
            var text = string.Join("\n", result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10).Select(d =>
            {
                var line = d.Location.GetLineSpan();
                string src = d.Location.SourceTree?.GetText().Lines[line.StartLinePosition.Line].ToString().Trim() ?? "";
                return $"{d}\n    > {src}";
            }));
            throw new InvalidOperationException("Generated code does not compile:\n" + text);
        }
        stream.Position = 0;
        return new AssemblyLoadContext("fuzz", isCollectible: true).LoadFromStream(stream);
    }
}
