using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Graph.Ir;
using Graph.Lowering;
using Graph.Runtime.Initialization;
using Graph.Runtime.Models;
using Graph.Runtime.Optimizers;

namespace Graph.Jit;

/// <summary>Which engine runs a model compiled at run time.</summary>
public enum ModelEngine
{
    /// <summary>DynamicMethods emitted from the lowered plan (the normal case).</summary>
    Jit,
    /// <summary>The reference interpreter in float32 (dynamic code unavailable and the fallback requested): correct, slow.</summary>
    Interpreter,
}

/// <summary>How long each phase of <see cref="GraphJit.Compile"/> took.</summary>
/// <param name="Lowering">Autodiff, passes, fusion and memory planning (<c>ModelLowering.Lower</c>).</param>
/// <param name="Emission">IL emission of every program and epilogue, and delegate creation.</param>
/// <param name="Construction">Storage allocation and parameter initialization.</param>
public sealed record JitCompileTimings(TimeSpan Lowering, TimeSpan Emission, TimeSpan Construction)
{
    /// <summary>The sum of the phases (the .NET JIT compiles each DynamicMethod on its first call, which is not included).</summary>
    public TimeSpan Total => Lowering + Emission + Construction;
}

/// <summary>What <see cref="GraphJit.Compile"/> returns: a compiled model that also says how it runs.</summary>
public interface IRuntimeCompiledModel : ICompiledModel
{
    /// <summary>The engine that runs the model.</summary>
    ModelEngine Engine { get; }

    /// <summary>A sentence on how the model runs (and why, for the interpreter fallback).</summary>
    string Diagnostics { get; }

    /// <summary>Compile-time phases.</summary>
    JitCompileTimings Timings { get; }

    /// <summary>The lowered plan the model runs (the same the source generator emits C# from).</summary>
    CompiledModelPlan Plan { get; }
}

/// <summary>Runs a program of the plan on the model's storage.</summary>
internal abstract class ProgramRunner
{
    public abstract void Run(ProgramKind kind, int batch, long step);
}

/// <summary>
/// The behaviour of a generated <c>[Model]</c> class (see <c>ModelWriter</c> in Graph.Core) over a
/// <see cref="ModelStorage"/> and a <see cref="ProgramRunner"/>: same storage, same initialization, same argument
/// validation and messages, same training step.
/// </summary>
internal class RuntimeModel : IRuntimeCompiledModel
{
    private readonly CompiledModelPlan _plan;
    private readonly ProgramRunner _runner;
    private readonly ModelTensorInfo[] _inputs, _parameters, _states;
    private readonly int[] _parameterLengths;
    private readonly float[][] _paramArrays, _gradArrays;
    private readonly (int[] Labels, int Classes, string Name, string Ident)[] _labelChecks;
    private readonly (View View, float[] State)[] _stateUpdates;
    private Optimizer _optimizer;
    private long _trainingSteps;
    private int _trainedBatch;   // the batch of the training pass whose prediction the storage holds (0: none)

    public RuntimeModel(CompiledModelPlan plan, ModelStorage storage, ProgramRunner runner, ModelEngine engine, string diagnostics, JitCompileTimings timings)
    {
        _plan = plan;
        Storage = storage;
        _runner = runner;
        Engine = engine;
        Diagnostics = diagnostics;
        Timings = timings;
        _inputs = plan.Inputs.Select(Info).ToArray();
        _parameters = plan.Parameters.Select(Info).ToArray();
        _states = plan.States.Select(Info).ToArray();
        _parameterLengths = new int[plan.Parameters.Count];
        for (int i = 0; i < _parameterLengths.Length; i++) _parameterLengths[i] = (int)plan.Parameters[i].Shape.ConstantSize;
        _paramArrays = plan.Parameters.Select(p => storage.Parameter(p.Name)).ToArray();
        _gradArrays = plan.Parameters.Select(p => storage.Gradient(p.Name)).ToArray();
        _labelChecks = LabelChecks(plan, storage);
        _stateUpdates = StateUpdates(plan.Program(ProgramKind.Train), storage);

        // Initialization in the generated constructor's order: one fork of the seed's generator per parameter, then per state.
        if (plan.Parameters.Count > 0 || plan.States.Count > 0)
        {
            var rng = new Rng(storage.Seed);
            foreach (var p in plan.Parameters) Initialize(storage.Parameter(p.Name), p, rng);
            foreach (var s in plan.States) Initialize(storage.State(s.Name), s, rng);
        }
        _optimizer = new Sgd(0.01f);
        _optimizer.Bind(_parameterLengths);
    }

    // The two lists below are built with loops into arrays: LINQ producing tuples JIT-compiles about twenty framework
    // methods (iterators and array builders over each tuple type) at every process's first compile.

    private static (int[] Labels, int Classes, string Name, string Ident)[] LabelChecks(CompiledModelPlan plan, ModelStorage storage)
    {
        int count = 0;
        foreach (var i in plan.Inputs) if (i.Kind == StorageKind.Label && i.Classes is int) count++;
        var checks = new (int[] Labels, int Classes, string Name, string Ident)[count];
        count = 0;
        foreach (var i in plan.Inputs)
            if (i.Kind == StorageKind.Label && i.Classes is int classes)
                checks[count++] = (storage.Ints[storage.Layout.IntSlot(i.Name)], classes, i.Name, Ident(i.Name));
        return checks;
    }

    private static (View View, float[] State)[] StateUpdates(ProgramPlan? train, ModelStorage storage)
    {
        const string prefix = "state:";
        int count = 0;
        if (train is not null) foreach (var o in train.Outputs) if (o.Key.StartsWith(prefix, StringComparison.Ordinal)) count++;
        var updates = new (View View, float[] State)[count];
        count = 0;
        if (train is not null)
            foreach (var o in train.Outputs)
                if (o.Key.StartsWith(prefix, StringComparison.Ordinal)) updates[count++] = (o.Value, storage.State(o.Key.Substring(prefix.Length)));
        return updates;
    }

    internal ModelStorage Storage { get; }

    public ModelEngine Engine { get; }

    public string Diagnostics { get; }

    public JitCompileTimings Timings { get; internal set; }

    public CompiledModelPlan Plan => _plan;

    // ----- initialization (mirror of ModelWriter.WriteInit) --------------------------------

    private static void Initialize(float[] values, PlanLeaf leaf, Rng rng)
    {
        var init = leaf.Init ?? new Initializer(InitKind.Zeros);
        var (fanIn, fanOut) = init.FansFor(leaf.Shape);
        switch (init.Kind)
        {
            case InitKind.Zeros:
                Initializers.Zeros(values);
                _ = rng.Fork();
                return;
            case InitKind.Constant:
                Initializers.Constant(values, (float)init.A);
                _ = rng.Fork();
                return;
            case InitKind.Uniform:
                Initializers.Uniform(values, (float)init.A, (float)init.B, rng.Fork());
                return;
            case InitKind.Normal:
                Initializers.Normal(values, (float)init.A, (float)init.B, rng.Fork());
                return;
        }
        var (uniform, scale) = init.ScaledDistribution(fanIn, fanOut);
        if (uniform) Initializers.Uniform(values, (float)-scale, (float)scale, rng.Fork());
        else Initializers.Normal(values, 0f, (float)scale, rng.Fork());
    }

    // ----- description ---------------------------------------------------------------------

    private static ModelTensorInfo Info(PlanLeaf l)
    {
        var kind = l.Kind switch
        {
            StorageKind.Parameter => ModelTensorKind.Parameter,
            StorageKind.State => ModelTensorKind.State,
            StorageKind.Label => ModelTensorKind.Labels,
            _ => l.IsFeature ? ModelTensorKind.Input : ModelTensorKind.Targets,
        };
        return new ModelTensorInfo(l.Name, kind, l.Shape.Dims.ToArray());
    }

    internal static string Ident(string name)
    {
        var sb = new StringBuilder();
        foreach (char c in name) sb.Append(char.IsLetterOrDigit(c) && c < 128 ? c : '_');
        if (sb.Length == 0 || char.IsDigit(sb[0])) sb.Insert(0, '_');
        return sb.ToString();
    }

    public string Name => _plan.Name;

    public int MaxBatch => Storage.MaxBatch;

    public ulong Seed => Storage.Seed;

    public bool IsTraining { get; set; }

    /// <summary>
    /// Checked mode, as in the generated class: after each kernel a NaN or infinity raises
    /// <see cref="NonFiniteValueException"/> naming the node, its op and the source line that built it. Off by default
    /// (one untaken branch per kernel). The interpreter fallback has no checked mode.
    /// </summary>
    public bool CheckFinite
    {
        get => Storage.CheckFinite;
        set
        {
            if (value && Engine != ModelEngine.Jit)
                throw new NotSupportedException($"Model '{Name}' runs on the reference interpreter, which has no checked mode; compile it with the JIT or the source generator.");
            Storage.CheckFinite = value;
        }
    }

    public long TrainingSteps => _trainingSteps;

    public IReadOnlyList<ModelTensorInfo> Inputs => _inputs;

    public IReadOnlyList<ModelTensorInfo> Parameters => _parameters;

    public IReadOnlyList<ModelTensorInfo> States => _states;

    public int OutputSize => _plan.PredictionShape is null ? 0 : (int)_plan.PredictionShape.ConstantSize;

    public Optimizer Optimizer
    {
        get => _optimizer;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (!value.IsBound) value.Bind(_parameterLengths);
            else
            {
                if (value.ParameterCount != _parameterLengths.Length) throw new ArgumentException($"The optimizer is bound to {value.ParameterCount} parameter tensors; this model has " + _parameterLengths.Length + ".", nameof(value));
                for (int i = 0; i < _parameterLengths.Length; i++)
                    if (value.ParameterLength(i) != _parameterLengths[i]) throw new ArgumentException($"The optimizer's parameter {i} has {value.ParameterLength(i)} elements; this model's has {_parameterLengths[i]}.", nameof(value));
            }
            _optimizer = value;
        }
    }

    private ArgumentException NoSuch(string what, string name, IEnumerable<PlanLeaf> leaves)
    {
        var list = leaves.ToList();
        string has = list.Count == 0 ? "." : "; it has " + string.Join(", ", list.Select(l => l.Name)).Replace("\"", "") + ".";
        return new ArgumentException($"Model '{_plan.Name.Replace("\"", "")}' has no {what} '{name}'{has}", nameof(name));
    }

    public Memory<float> Parameter(string name) =>
        _plan.Parameters.Any(p => p.Name == name) ? Storage.Parameter(name) : throw NoSuch("parameter", name, _plan.Parameters);

    public Memory<float> Gradient(string name) =>
        _plan.Parameters.Any(p => p.Name == name) ? Storage.Gradient(name) : throw NoSuch("parameter", name, _plan.Parameters);

    public Memory<float> State(string name) =>
        _plan.States.Any(p => p.Name == name) ? Storage.State(name) : throw NoSuch("state", name, _plan.States);

    public Span<float> InputBuffer(string name) =>
        _plan.Inputs.Any(i => i.Kind == StorageKind.Input && i.Name == name)
            ? Storage.Floats[Storage.Layout.FloatSlot(StorageKind.Input, name)]
            : throw NoSuch("float input", name, _plan.Inputs.Where(i => i.Kind == StorageKind.Input));

    public Span<int> LabelBuffer(string name) =>
        _plan.Inputs.Any(i => i.Kind == StorageKind.Label && i.Name == name)
            ? Storage.Ints[Storage.Layout.IntSlot(name)]
            : throw NoSuch("label input", name, _plan.Inputs.Where(i => i.Kind == StorageKind.Label));

    // ----- the buffered API (mirror of ModelWriter.WriteBufferedApi) -------------------------

    protected void CheckBatch(int batch)
    {
        if ((uint)(batch - 1) >= (uint)Storage.MaxBatch) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"The batch must be in [1, {Storage.MaxBatch}].");
    }

    private void CheckLabels(int batch)
    {
        foreach (var (labels, classes, name, ident) in _labelChecks)
        {
            for (int i = 0; i < batch; i++)
                if ((uint)labels[i] >= (uint)classes) throw new ArgumentException($"label '{name}' at index {i} is {labels[i]}, outside [0, {classes}).", ident);
        }
    }

    private bool SeparateTrainMode => !_plan.TrainModeSameAsEval;

    public void Predict(int batch, Span<float> output)
    {
        CheckBatch(batch);
        var predict = _plan.Program(ProgramKind.Predict) ?? throw new InvalidOperationException($"Model '{_plan.Name}' declares no output.");
        var view = predict.Output("output")!;
        long need = view.Size.Value(batch);
        if (output.Length != need) throw new ArgumentException($"output needs {(view.Size.PerBatch ? "batch*" + view.Size.Coef : view.Size.Coef.ToString(System.Globalization.CultureInfo.InvariantCulture))} = {need} floats, got {output.Length}.", nameof(output));
        _trainedBatch = 0;
        if (SeparateTrainMode && _plan.Program(ProgramKind.PredictTrainMode) is ProgramPlan pt && IsTraining)
        {
            _runner.Run(ProgramKind.PredictTrainMode, batch, _trainingSteps);
            Storage.SpanOf(pt.Output("output")!, batch).CopyTo(output);
            return;
        }
        _runner.Run(ProgramKind.Predict, batch, _trainingSteps);
        Storage.SpanOf(view, batch).CopyTo(output);
    }

    public float Loss(int batch)
    {
        CheckBatch(batch);
        var loss = _plan.Program(ProgramKind.Loss) ?? throw new InvalidOperationException($"Model '{_plan.Name}' declares no loss.");
        CheckLabels(batch);
        _trainedBatch = 0;
        if (SeparateTrainMode && _plan.Program(ProgramKind.LossTrainMode) is ProgramPlan lt && IsTraining)
        {
            _runner.Run(ProgramKind.LossTrainMode, batch, _trainingSteps);
            return Storage.SpanOf(lt.Output("loss")!, batch)[0];
        }
        _runner.Run(ProgramKind.Loss, batch, _trainingSteps);
        return Storage.SpanOf(loss.Output("loss")!, batch)[0];
    }

    public float ComputeGradients(int batch)
    {
        CheckBatch(batch);
        var train = _plan.Program(ProgramKind.Train) ?? throw new InvalidOperationException($"Model '{_plan.Name}' declares no loss.");
        CheckLabels(batch);
        _runner.Run(ProgramKind.Train, batch, _trainingSteps);
        if (train.Output("output") is not null) _trainedBatch = batch;
        return Storage.SpanOf(train.Output("loss")!, batch)[0];
    }

    public float TrainStep(int batch)
    {
        if (_plan.Program(ProgramKind.Train) is null) throw new InvalidOperationException($"Model '{_plan.Name}' declares no loss.");
        float loss = ComputeGradients(batch);
        foreach (var (view, state) in _stateUpdates) Storage.SpanOf(view, batch).CopyTo(state);
        if (_paramArrays.Length > 0)
        {
            _optimizer.BeginStep();
            for (int i = 0; i < _paramArrays.Length; i++) _optimizer.Update(i, _paramArrays[i], _gradArrays[i]);
        }
        _trainingSteps++;
        return loss;
    }

    public void TrainingOutput(int batch, Span<float> output)
    {
        var train = _plan.Program(ProgramKind.Train) ?? throw new InvalidOperationException($"Model '{_plan.Name}' declares no loss.");
        var view = train.Output("output") ?? throw new InvalidOperationException($"Model '{_plan.Name}' declares no output.");
        if (_trainedBatch == 0) throw new InvalidOperationException("No training pass has run since the model's last Predict or Loss.");
        if (batch != _trainedBatch) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"The last training pass ran {_trainedBatch} examples.");
        long need = view.Size.Value(batch);
        if (output.Length != need) throw new ArgumentException($"output needs {(view.Size.PerBatch ? "batch*" + view.Size.Coef : view.Size.Coef.ToString(System.Globalization.CultureInfo.InvariantCulture))} = {need} floats, got {output.Length}.", nameof(output));
        Storage.SpanOf(view, batch).CopyTo(output);
    }

    /// <summary>Copies a typed argument into its input storage (mirror of ModelWriter.CopyIn).</summary>
    protected void CopyIn<T>(PlanLeaf l, object destination, ReadOnlySpan<T> values, int batch) where T : unmanaged
    {
        long per = l.Shape.ConstantSize;
        long need = per * batch;
        if (values.Length != need) throw WrongLength(l, need, values.Length);
        if (l.Kind == StorageKind.Label) System.Runtime.InteropServices.MemoryMarshal.Cast<T, int>(values).CopyTo((int[])destination);
        else System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(values).CopyTo((float[])destination);
    }

    private static ArgumentException WrongLength(PlanLeaf l, long need, int length)
    {
        long per = l.Shape.ConstantSize;
        string kind = l.Kind == StorageKind.Label ? "labels" : l.IsFeature ? "input" : "targets";
        string unit = l.Kind == StorageKind.Label ? "ints" : "floats";
        string text = per == 1 ? "batch" : "batch*" + per.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new ArgumentException($"{kind} '{l.Name}' needs {text} = {need} {unit}, got {length}.", Ident(l.Name));
    }

    public override string ToString() => $"{_plan.Name} ({Engine})";
}

/// <summary>A model with one feature input and one label or target input: the typed API of a generated class.</summary>
internal sealed class SupervisedRuntimeModel<TLabel> : RuntimeModel, ISupervisedModel<TLabel> where TLabel : unmanaged
{
    private readonly PlanLeaf _feature, _label;
    private readonly object _featureStorage, _labelStorage;

    public SupervisedRuntimeModel(CompiledModelPlan plan, ModelStorage storage, ProgramRunner runner, ModelEngine engine, string diagnostics, JitCompileTimings timings, PlanLeaf feature, PlanLeaf label)
        : base(plan, storage, runner, engine, diagnostics, timings)
    {
        _feature = feature;
        _label = label;
        _featureStorage = storage.Floats[storage.Layout.FloatSlot(StorageKind.Input, feature.Name)];
        _labelStorage = label.Kind == StorageKind.Label ? storage.Ints[storage.Layout.IntSlot(label.Name)] : storage.Floats[storage.Layout.FloatSlot(StorageKind.Input, label.Name)];
    }

    public int InputSize => (int)_feature.Shape.ConstantSize;

    public int LabelSize => (int)_label.Shape.ConstantSize;

    public void Predict(ReadOnlySpan<float> input, int batch, Span<float> output)
    {
        CheckBatch(batch);
        CopyIn(_feature, _featureStorage, input, batch);
        Predict(batch, output);
    }

    public float Loss(ReadOnlySpan<float> input, ReadOnlySpan<TLabel> labels, int batch)
    {
        CheckBatch(batch);
        CopyIn(_feature, _featureStorage, input, batch);
        CopyIn(_label, _labelStorage, labels, batch);
        return Loss(batch);
    }

    public float ComputeGradients(ReadOnlySpan<float> input, ReadOnlySpan<TLabel> labels, int batch)
    {
        CheckBatch(batch);
        CopyIn(_feature, _featureStorage, input, batch);
        CopyIn(_label, _labelStorage, labels, batch);
        return ComputeGradients(batch);
    }

    public float TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<TLabel> labels, int batch)
    {
        CheckBatch(batch);
        CopyIn(_feature, _featureStorage, input, batch);
        CopyIn(_label, _labelStorage, labels, batch);
        return TrainStep(batch);
    }
}
