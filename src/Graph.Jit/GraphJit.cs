using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Runtime.CompilerServices;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Jit.Emit.IL;
using Graph.Lowering;
using Graph.Ops;
using Graph.Runtime.Kernels;
using Graph.Runtime.Models;

namespace Graph.Jit;

/// <summary>Options of <see cref="GraphJit.Compile"/>.</summary>
public sealed class JitOptions
{
    /// <summary>
    /// Where dynamic code is unsupported (NativeAOT), return a model that runs on the reference interpreter in
    /// float32 (correct but slow; <see cref="IRuntimeCompiledModel.Engine"/> says so) instead of throwing.
    /// The same fallback is used for a plan construct the IL emitter cannot express.
    /// </summary>
    public bool FallBackToInterpreter { get; init; }

    /// <summary>
    /// Emit one DynamicMethod per kernel (called in order) instead of one per program. For measurement: the default,
    /// one method per program, is what the generated class does (one <c>RunTrain</c> method) and runs as fast.
    /// </summary>
    public bool MethodPerKernel { get; init; }

    /// <summary>Tests only: behave as if <see cref="RuntimeFeature.IsDynamicCodeSupported"/> were false.</summary>
    internal bool SimulateNoDynamicCode { get; init; }

    /// <summary>The AppContext switch that, when set, simulates a runtime without dynamic code (for tests).</summary>
    public const string SimulateNoDynamicCodeSwitch = "Graph.Jit.SimulateNoDynamicCode";
}

/// <summary>
/// The run-time compiler: lowers a graph built at run time with the same pipeline as the <c>[Model]</c> source
/// generator (<see cref="ModelLowering.Lower"/>) and compiles the plan into <c>DynamicMethod</c>s that compute the
/// same numbers as the generated C#.
/// </summary>
public static class GraphJit
{
    /// <summary>Whether <see cref="Compile"/> can emit code in this process.</summary>
    public static bool IsSupported => RuntimeFeature.IsDynamicCodeSupported
        && !(AppContext.TryGetSwitch(JitOptions.SimulateNoDynamicCodeSwitch, out bool simulate) && simulate);

    /// <summary>
    /// Compiles the model for batches of up to <paramref name="maxBatch"/> examples and initializes its parameters from
    /// <paramref name="seed"/> exactly as the generated class would. The result implements <see cref="ICompiledModel"/>,
    /// <see cref="IRuntimeCompiledModel"/> and, for one feature input and one label or target input,
    /// <see cref="ISupervisedModel{TLabel}"/> (int labels or float targets).
    /// </summary>
    /// <exception cref="NotSupportedException">Dynamic code is unsupported (NativeAOT) and
    /// <see cref="JitOptions.FallBackToInterpreter"/> is not set; or an op has no lowering.</exception>
    [RequiresDynamicCode("The JIT emits DynamicMethods; under NativeAOT use a [Model] class (source generator).")]
    public static ICompiledModel Compile(ModelBuilder builder, int maxBatch, ulong seed = 0, JitOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "The maximum batch must be at least 1.");
        options ??= new JitOptions();
        bool dynamicCode = IsSupported && !options.SimulateNoDynamicCode;
        if (!dynamicCode && !options.FallBackToInterpreter)
            throw new NotSupportedException(
                $"Model '{builder.Graph.Name}': dynamic code is not supported in this process (NativeAOT or a runtime without Reflection.Emit), so GraphJit cannot compile it. " +
                "Declare the model as a [Model] partial class so the source generator compiles it ahead of time, " +
                "or pass new JitOptions { FallBackToInterpreter = true } to run it, slowly, on the reference interpreter.");

        var clock = Stopwatch.StartNew();
        var plan = ModelLowering.Lower(builder);
        var lowering = clock.Elapsed;

        string? unsupported = null;
        if (dynamicCode)
        {
            try { IlModelEmitter.CheckSupported(plan); }
            catch (NotSupportedException e)
            {
                if (!options.FallBackToInterpreter) throw;
                unsupported = e.Message;
            }
        }
        if (!dynamicCode || unsupported is not null)
        {
            clock.Restart();
            var layoutI = new StorageLayout(plan);
            var storageI = new ModelStorage(layoutI, maxBatch, seed);
            string why = unsupported is null
                ? "dynamic code is not supported in this process"
                : "the IL emitter cannot compile it (" + unsupported + ")";
            string diagnostics = $"Model '{plan.Name}' runs on the reference interpreter (float32), much slower than compiled code, because {why}; " +
                "declare it as a [Model] class to compile it ahead of time.";
            return Create(plan, storageI, new InterpreterRunner(plan, storageI), ModelEngine.Interpreter, diagnostics, lowering, TimeSpan.Zero, clock);
        }
        return CompileJit(plan, maxBatch, seed, options.MethodPerKernel, lowering, clock);
    }

    [RequiresDynamicCode("Emits DynamicMethods.")]
    private static ICompiledModel CompileJit(CompiledModelPlan plan, int maxBatch, ulong seed, bool methodPerKernel, TimeSpan lowering, Stopwatch clock)
    {
        clock.Restart();
        var layout = new StorageLayout(plan);
        var emitter = new IlModelEmitter(layout);
        emitter.EmitAll(methodPerKernel);
        var storage = new ModelStorage(layout, maxBatch, seed);
        var epilogues = new EpilogueBody[emitter.Epilogues.Count];
        for (int i = 0; i < epilogues.Length; i++) epilogues[i] = (EpilogueBody)emitter.Epilogues[i].CreateDelegate(typeof(EpilogueBody), storage);
        storage.Epilogues = epilogues;
        storage.FiniteChecks = emitter.FiniteChecks.ToArray();
        var programs = new ProgramBody[Enum.GetValues<ProgramKind>().Length][];
        foreach (var (kind, methods) in emitter.Programs)
            programs[(int)kind] = methods.Select(m => (ProgramBody)m.CreateDelegate(typeof(ProgramBody), storage)).ToArray();
        var emission = clock.Elapsed;
        clock.Restart();
        return Create(plan, storage, new JitRunner(programs), ModelEngine.Jit,
            $"Model '{plan.Name}' is compiled to IL: {emitter.Programs.Values.Sum(m => m.Count)} program methods ({(methodPerKernel ? "one per kernel" : "one per program")}), {emitter.Epilogues.Count} epilogue methods.",
            lowering, emission, clock);
    }

    private static ICompiledModel Create(CompiledModelPlan plan, ModelStorage storage, ProgramRunner runner, ModelEngine engine, string diagnostics,
        TimeSpan lowering, TimeSpan emission, Stopwatch clock)
    {
        var features = plan.Inputs.Where(i => i.IsFeature && i.Kind == StorageKind.Input).ToArray();
        var lossInputs = plan.Inputs.Where(i => !i.IsFeature || i.Kind == StorageKind.Label).ToArray();
        bool supervised = features.Length == 1 && lossInputs.Length == 1 && plan.Program(ProgramKind.Train) is not null && plan.PredictionShape is not null;
        var timings = new JitCompileTimings(lowering, emission, TimeSpan.Zero);
        RuntimeModel model = !supervised
            ? new RuntimeModel(plan, storage, runner, engine, diagnostics, timings)
            : lossInputs[0].Kind == StorageKind.Label
                ? new SupervisedRuntimeModel<int>(plan, storage, runner, engine, diagnostics, timings, features[0], lossInputs[0])
                : new SupervisedRuntimeModel<float>(plan, storage, runner, engine, diagnostics, timings, features[0], lossInputs[0]);
        model.Timings = timings with { Construction = clock.Elapsed };
        return model;
    }

    /// <summary>
    /// <see cref="Compile"/> for a model with one feature input and one label input (<typeparamref name="TLabel"/> = int)
    /// or one target input (float).
    /// </summary>
    /// <exception cref="ArgumentException">The model is not of that form.</exception>
    [RequiresDynamicCode("The JIT emits DynamicMethods; under NativeAOT use a [Model] class (source generator).")]
    public static ISupervisedModel<TLabel> CompileSupervised<TLabel>(ModelBuilder builder, int maxBatch, ulong seed = 0, JitOptions? options = null)
        where TLabel : unmanaged
    {
        var model = Compile(builder, maxBatch, seed, options);
        return model as ISupervisedModel<TLabel> ?? throw new ArgumentException(
            $"Model '{model.Name}' is not a supervised model with {typeof(TLabel).Name} labels: it needs one feature input, one " +
            (typeof(TLabel) == typeof(int) ? "label input (Labels)" : "target input (Targets)") + ", an output and a loss.", nameof(builder));
    }
}

/// <summary>Runs the compiled program delegates.</summary>
internal sealed class JitRunner : ProgramRunner
{
    private readonly ProgramBody[][] _programs;

    public JitRunner(ProgramBody[][] programs) => _programs = programs;

    public override void Run(ProgramKind kind, int batch, long step)
    {
        foreach (var body in _programs[(int)kind]) body(batch, step);
    }
}

/// <summary>
/// Runs a program's optimized graph on the reference interpreter in float32 and writes its outputs where the compiled
/// program would have left them, so the model around it behaves the same.
/// </summary>
internal sealed class InterpreterRunner : ProgramRunner
{
    private readonly CompiledModelPlan _plan;
    private readonly ModelStorage _storage;

    public InterpreterRunner(CompiledModelPlan plan, ModelStorage storage)
    {
        _plan = plan;
        _storage = storage;
    }

    public override void Run(ProgramKind kind, int batch, long step)
    {
        var program = _plan.Program(kind)!;
        var graph = program.Graph;
        var feeds = new Dictionary<string, TensorValue>(StringComparer.Ordinal);
        var layout = _storage.Layout;
        foreach (var node in graph.Nodes)
        {
            if (node.Op is not LeafOp leaf || feeds.ContainsKey(leaf.LeafName)) continue;
            var dims = node.Shape.Concrete(batch);
            int count = TensorValue.Product(dims);
            var data = new double[count];
            switch (node.Op)
            {
                case InputOp when node.DType == Ir.DType.Int32:
                {
                    var labels = _storage.Ints[layout.IntSlot(leaf.LeafName)];
                    for (int i = 0; i < count; i++) data[i] = labels[i];
                    break;
                }
                case InputOp:
                    Copy(_storage.Floats[layout.FloatSlot(StorageKind.Input, leaf.LeafName)], data);
                    break;
                case ParameterOp:
                    Copy(_storage.Parameter(leaf.LeafName), data);
                    break;
                case StateOp:
                    Copy(_storage.State(leaf.LeafName), data);
                    break;
                default:
                    throw new NotSupportedException($"The interpreter fallback cannot feed the leaf '{leaf.LeafName}' ({node.Op.Name}).");
            }
            feeds[leaf.LeafName] = new TensorValue(dims, data);
        }
        var mode = kind is ProgramKind.Train or ProgramKind.PredictTrainMode or ProgramKind.LossTrainMode ? Mode.Train : Mode.Eval;
        var results = Interpreter.Run(graph, feeds, mode, Precision.Float32, _storage.Seed, step);
        foreach (var (name, view) in program.Outputs)
        {
            if (view.Buffer.Kind is StorageKind.Constant or StorageKind.Input or StorageKind.Label) continue;
            var target = _storage.SpanOf(view, batch);
            var values = results[name].Data;
            for (int i = 0; i < target.Length; i++) target[i] = (float)values[i];
        }
    }

    private static void Copy(float[] from, double[] to)
    {
        for (int i = 0; i < to.Length; i++) to[i] = from[i];
    }
}
