using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Graph.Builder;
using Graph.Emit.CSharp;
using Graph.Ir;
using Graph.Lowering;
using Graph.Ops;

namespace Graph.Emit;

/// <summary>
/// Where the generated members go: the namespace (null for the global one), the class name, its accessibility
/// ("public", "internal", ...) and the types it is nested in, outermost first. A containing type is written as
/// given when it contains a space ("partial struct Outer", "public static partial class Holder"), otherwise as
/// "partial class NAME".
/// </summary>
public sealed record EmitTarget(string? Namespace, string ClassName, string Accessibility, IReadOnlyList<string> ContainingTypes);

/// <summary>The C# text emitter: the source generator puts its result into the user's <c>[Model]</c> partial class.</summary>
public static class ModelEmitter
{
    /// <summary>
    /// Lowers the model and writes the partial class. Throws <see cref="NotSupportedException"/> naming an op
    /// that is not lowered yet.
    /// </summary>
    public static string Emit(ModelBuilder builder, EmitTarget target)
    {
        // The graph as the definition built it, before lowering adds the backward pass.
        string graphText = GraphPrinter.Print(builder.Graph, withLocations: true);
        var plan = ModelLowering.Lower(builder);
        return new ModelWriter(plan, target, graphText).Write();
    }

    /// <summary>Writes an already lowered plan.</summary>
    public static string Emit(CompiledModelPlan plan, EmitTarget target) => new ModelWriter(plan, target, null).Write();
}

internal sealed class ModelWriter
{
    private const string K = "global::Graph.Runtime.Kernels.";
    private const string M = "global::Graph.Runtime.Models.";
    private readonly CompiledModelPlan _plan;
    private readonly EmitTarget _target;
    private readonly CodeWriter _w = new();
    private readonly List<string> _structs = new();
    private readonly Dictionary<string, string> _convFields = new(StringComparer.Ordinal);
    private readonly List<string> _convDecls = new();
    private readonly Dictionary<string, string> _poolFields = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _fieldNames = new(StringComparer.Ordinal);
    private readonly HashSet<string> _usedFields = new(StringComparer.Ordinal);
    private bool _needsTanh;

    private readonly string? _graphText;

    public ModelWriter(CompiledModelPlan plan, EmitTarget target, string? graphText)
    {
        _plan = plan;
        _target = target;
        _graphText = graphText;
    }

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Lit(double value)
    {
        float f = (float)value;
        if (float.IsNaN(f)) return "float.NaN";
        if (float.IsPositiveInfinity(f)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(f)) return "float.NegativeInfinity";
        string s = f.ToString("R", CultureInfo.InvariantCulture) + "f";
        return f < 0 || (f == 0 && 1 / f < 0) ? "(" + s + ")" : s;
    }

    private static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            if (c == '"' || c == '\\') sb.Append('\\').Append(c);
            else if (c < ' ') sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    private static string Ident(string name)
    {
        var sb = new StringBuilder();
        foreach (char c in name) sb.Append(char.IsLetterOrDigit(c) && c < 128 ? c : '_');
        if (sb.Length == 0 || char.IsDigit(sb[0])) sb.Insert(0, '_');
        return sb.ToString();
    }

    private static string Pascal(string name)
    {
        var sb = new StringBuilder();
        bool upper = true;
        foreach (char c in name)
        {
            if (!(char.IsLetterOrDigit(c) && c < 128)) { upper = true; continue; }
            sb.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }
        if (sb.Length == 0 || char.IsDigit(sb[0])) sb.Insert(0, 'T');
        return sb.ToString();
    }

    private string Field(string prefix, string name)
    {
        string key = prefix + "|" + name;
        if (_fieldNames.TryGetValue(key, out var f)) return f;
        string baseName = prefix + Ident(name);
        string candidate = baseName;
        for (int i = 2; !_usedFields.Add(candidate); i++) candidate = baseName + "_" + I(i);
        _fieldNames[key] = candidate;
        return candidate;
    }

    private string Array(PlanBuffer b) => b.Kind switch
    {
        StorageKind.Arena => "arena",
        StorageKind.Input => Field("_input_", b.Name),
        StorageKind.Label => Field("_labels_", b.Name),
        StorageKind.Parameter => Field("_param_", b.Name),
        StorageKind.Gradient => Field("_grad_", b.Name),
        StorageKind.State => Field("_state_", b.Name),
        _ => "s_constant" + I(b.ConstantIndex),
    };

    private static string Offset(PlanBuffer b) => b.Kind == StorageKind.Arena ? b.OffsetCode : "0";

    private string SpanOf(View v) => $"{Array(v.Buffer)}.AsSpan({Offset(v.Buffer)}, {v.Size.Code})";

    private string ConvField(ConvKernel k)
    {
        var win = k.Window;
        string args = $"{I(k.Channels)}, {I(k.Height)}, {I(k.Width)}, {I(k.OutChannels)}, {I(win.KernelH)}, {I(win.KernelW)}, {I(win.StrideH)}, {I(win.StrideW)}, {I(win.PadH)}, {I(win.PadW)}";
        if (!_convFields.TryGetValue(args, out var name))
        {
            name = "s_conv" + I(_convFields.Count);
            _convFields[args] = name;
            _convDecls.Add($"private static readonly {K}Conv2dShape {name} = new({args});");
        }
        return name;
    }

    // ----- the class ------------------------------------------------------------------------

    private PlanLeaf[] Features => _plan.Inputs.Where(i => i.IsFeature && i.Kind == StorageKind.Input).ToArray();

    private PlanLeaf[] LossInputs => _plan.Inputs.Where(i => !i.IsFeature || i.Kind == StorageKind.Label).ToArray();

    private PlanLeaf? SupervisedLabel =>
        Features.Length == 1 && LossInputs.Length == 1 && _plan.Program(ProgramKind.Train) is not null && _plan.PredictionShape is not null
            ? LossInputs[0] : null;

    public string Write()
    {
        // Programs first: they register epilogue structs, conv shapes and helpers.
        var body = new CodeWriter();
        var programs = _plan.Programs.OrderBy(p => (int)p.Key).Select(p => p.Value).ToList();
        var programText = new List<string>();
        foreach (var p in programs) programText.Add(WriteProgram(p));

        _w.Line("// <auto-generated/>");
        _w.Line($"// Generated by Graph from the model '{_plan.Name}'. Kernels are commented with the graph nodes they compute.");
        _w.Line("#nullable enable");
        // CS0649: a model without a loss never assigns the training-step counter.
        _w.Line("#pragma warning disable CS1591, CS0162, CS0168, CS0219, CS0649");
        _w.Line();
        _w.Line("using System;");
        _w.Line("using System.Runtime.CompilerServices;");
        _w.Line("using System.Runtime.InteropServices;");
        _w.Line("using System.Runtime.Intrinsics;");
        _w.Line();
        if (_target.Namespace is { Length: > 0 } ns) _w.Open("namespace " + ns);
        foreach (var t in _target.ContainingTypes) _w.Open(t.Contains(" ") ? t : "partial class " + t);
        var label = SupervisedLabel;
        string interfaces = M + "ICompiledModel";
        if (label is not null) interfaces += $", {M}ISupervisedModel<{(label.Kind == StorageKind.Label ? "int" : "float")}>";
        string access = _target.Accessibility.Length > 0 ? _target.Accessibility + " " : "";
        _w.Open($"{access}partial class {_target.ClassName} : {interfaces}");
        WriteFields();
        WriteConstructor();
        WriteInfo();
        WriteAccessors();
        WriteTypedApi();
        WriteBufferedApi();
        foreach (var text in programText) Raw(text);
        foreach (var s in _structs) Raw(s);
        if (_needsTanh) WriteTanhHelpers();
        _w.Close();
        foreach (var _ in _target.ContainingTypes) _w.Close();
        if (_target.Namespace is { Length: > 0 }) _w.Close();
        return _w.ToString();
    }

    private void Raw(string text)
    {
        _w.Line();
        foreach (var line in text.TrimEnd('\n').Split('\n')) _w.Line(line);
    }

    private void WriteFields()
    {
        var (perBatch, constant) = _plan.ArenaSize;
        _w.Line($"/// <summary>Floats of planned intermediates: {I(perBatch)} per example + {I(constant)}.</summary>");
        _w.Line($"private const int ArenaPerExample = {I(perBatch)};");
        _w.Line($"private const int ArenaFixed = {I(constant)};");
        _w.Line("private readonly int _maxBatch;");
        _w.Line("private readonly ulong _seed;");
        _w.Line("private readonly float[] _arena;");
        _w.Line("private readonly float[] _workspace;");
        _w.Line($"private global::Graph.Runtime.Optimizers.Optimizer _optimizer;");
        _w.Line("private long _trainingSteps;");
        _w.Line("private int _trainedBatch;   // the batch of the training pass whose prediction the arena holds (0: none)");
        _w.Line("private bool _checkFinite;");
        foreach (var i in _plan.Inputs)
            _w.Line(i.Kind == StorageKind.Label
                ? $"private readonly int[] {Field("_labels_", i.Name)};"
                : $"private readonly float[] {Field("_input_", i.Name)};");
        foreach (var p in _plan.Parameters)
        {
            _w.Line($"private readonly float[] {Field("_param_", p.Name)} = new float[{I(p.Shape.ConstantSize)}];");
            _w.Line($"private readonly float[] {Field("_grad_", p.Name)} = new float[{I(p.Shape.ConstantSize)}];");
        }
        foreach (var s in _plan.States)
            _w.Line($"private readonly float[] {Field("_state_", s.Name)} = new float[{I(s.Shape.ConstantSize)}];");
        _w.Line($"private static readonly int[] s_parameterLengths = {{ {string.Join(", ", _plan.Parameters.Select(p => I(p.Shape.ConstantSize)))} }};");
        for (int c = 0; c < _plan.Constants.Count; c++)
            _w.Line($"private static readonly float[] s_constant{I(c)} = {{ {string.Join(", ", _plan.Constants[c].Select(Lit))} }};");
        foreach (var d in _convDecls) _w.Line(d);
        _w.Line($"private static readonly {M}ModelTensorInfo[] s_inputs = {{ {string.Join(", ", _plan.Inputs.Select(Info))} }};");
        _w.Line($"private static readonly {M}ModelTensorInfo[] s_parameters = {{ {string.Join(", ", _plan.Parameters.Select(Info))} }};");
        _w.Line($"private static readonly {M}ModelTensorInfo[] s_states = {{ {string.Join(", ", _plan.States.Select(Info))} }};");
    }

    private static string Info(PlanLeaf l)
    {
        string kind = l.Kind switch
        {
            StorageKind.Parameter => "Parameter",
            StorageKind.State => "State",
            StorageKind.Label => "Labels",
            _ => l.IsFeature ? "Input" : "Targets",
        };
        return $"new({Quote(l.Name)}, {M}ModelTensorKind.{kind}, new int[] {{ {string.Join(", ", l.Shape.Dims.Select(d => I(d)))} }})";
    }

    private void WriteConstructor()
    {
        _w.Line();
        _w.Line("/// <summary>Allocates storage for batches of up to <paramref name=\"maxBatch\"/> examples and initializes the parameters from <paramref name=\"seed\"/>.</summary>");
        _w.Open($"public {_target.ClassName}(int maxBatch, ulong seed = 0)");
        _w.Line($"if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, \"The maximum batch must be at least 1.\");");
        _w.Line("_maxBatch = maxBatch;");
        _w.Line("_seed = seed;");
        _w.Line("_arena = new float[checked(ArenaFixed + ArenaPerExample * maxBatch)];");
        foreach (var i in _plan.Inputs)
            _w.Line(i.Kind == StorageKind.Label
                ? $"{Field("_labels_", i.Name)} = new int[checked({I(i.Shape.ConstantSize)} * maxBatch)];"
                : $"{Field("_input_", i.Name)} = new float[checked({I(i.Shape.ConstantSize)} * maxBatch)];");
        if (_convFields.Count == 0) _w.Line("_workspace = System.Array.Empty<float>();");
        else
        {
            _w.Line("int workspace = 0;");
            foreach (var name in _convFields.Values)
                _w.Line($"workspace = Math.Max(workspace, {K}Conv2d.WorkspaceLength({name}, maxBatch));");
            _w.Line("_workspace = new float[workspace];");
        }
        if (_plan.Parameters.Count > 0 || _plan.States.Count > 0)
            _w.Line("var rng = new global::Graph.Runtime.Initialization.Rng(seed);");
        foreach (var p in _plan.Parameters) WriteInit(Field("_param_", p.Name), p);
        foreach (var s in _plan.States) WriteInit(Field("_state_", s.Name), s);
        _w.Line("_optimizer = new global::Graph.Runtime.Optimizers.Sgd(0.01f);");
        _w.Line("_optimizer.Bind(s_parameterLengths);");
        _w.Close();
    }

    private void WriteInit(string field, PlanLeaf leaf)
    {
        const string Init = "global::Graph.Runtime.Initialization.Initializers.";
        var init = leaf.Init ?? new Initializer(InitKind.Zeros);
        var (fanIn, fanOut) = init.FansFor(leaf.Shape);
        string r = "rng.Fork()";
        string comment = $"// {leaf.Name}: {init}";
        switch (init.Kind)
        {
            case InitKind.Zeros:
                _w.Line($"{Init}Zeros({field}); {comment}");
                _w.Line("_ = rng.Fork();");
                return;
            case InitKind.Constant:
                _w.Line($"{Init}Constant({field}, {Lit(init.A)}); {comment}");
                _w.Line("_ = rng.Fork();");
                return;
            case InitKind.Uniform:
                _w.Line($"{Init}Uniform({field}, {Lit(init.A)}, {Lit(init.B)}, {r}); {comment}");
                return;
            case InitKind.Normal:
                _w.Line($"{Init}Normal({field}, {Lit(init.A)}, {Lit(init.B)}, {r}); {comment}");
                return;
        }
        var (uniform, scale) = init.ScaledDistribution(fanIn, fanOut);
        _w.Line(uniform
            ? $"{Init}Uniform({field}, {Lit(-scale)}, {Lit(scale)}, {r}); {comment}"
            : $"{Init}Normal({field}, 0f, {Lit(scale)}, {r}); {comment}");
    }

    private void WriteInfo()
    {
        _w.Line();
        if (_graphText is not null)
        {
            _w.Line("/// <summary>The model's graph as its definition built it (IR text with source lines).</summary>");
            // A verbatim literal keeps the IR readable in the generated file, one node per line.
            _w.Line("public const string GraphText = @\"" + _graphText.Replace("\"", "\"\"") + "\";");
            _w.Line();
        }
        _w.Line($"public string Name => {Quote(_plan.Name)};");
        _w.Line("public int MaxBatch => _maxBatch;");
        _w.Line("public ulong Seed => _seed;");
        _w.Line("public bool IsTraining { get; set; }");
        _w.Line("public bool CheckFinite { get => _checkFinite; set => _checkFinite = value; }");
        _w.Line("public long TrainingSteps => _trainingSteps;");
        _w.Line($"public global::System.Collections.Generic.IReadOnlyList<{M}ModelTensorInfo> Inputs => s_inputs;");
        _w.Line($"public global::System.Collections.Generic.IReadOnlyList<{M}ModelTensorInfo> Parameters => s_parameters;");
        _w.Line($"public global::System.Collections.Generic.IReadOnlyList<{M}ModelTensorInfo> States => s_states;");
        long outSize = _plan.PredictionShape is null ? 0 : _plan.PredictionShape.HasBatch ? _plan.PredictionShape.ConstantSize : _plan.PredictionShape.ConstantSize;
        _w.Line($"public int OutputSize => {I(outSize)};");
        var label = SupervisedLabel;
        if (label is not null)
        {
            _w.Line($"public int InputSize => {I(Features[0].Shape.ConstantSize)};");
            _w.Line($"public int LabelSize => {I(label.Shape.ConstantSize)};");
        }
        _w.Line();
        _w.Open("public global::Graph.Runtime.Optimizers.Optimizer Optimizer");
        _w.Line("get => _optimizer;");
        _w.Open("set");
        _w.Line("ArgumentNullException.ThrowIfNull(value);");
        _w.Line("if (!value.IsBound) value.Bind(s_parameterLengths);");
        _w.Open("else");
        _w.Line("if (value.ParameterCount != s_parameterLengths.Length) throw new ArgumentException($\"The optimizer is bound to {value.ParameterCount} parameter tensors; this model has \" + s_parameterLengths.Length + \".\", nameof(value));");
        _w.Line("for (int i = 0; i < s_parameterLengths.Length; i++)");
        _w.Line("    if (value.ParameterLength(i) != s_parameterLengths[i]) throw new ArgumentException($\"The optimizer's parameter {i} has {value.ParameterLength(i)} elements; this model's has {s_parameterLengths[i]}.\", nameof(value));");
        _w.Close();
        _w.Line("_optimizer = value;");
        _w.Close();
        _w.Close();
    }

    private void WriteAccessors()
    {
        void Switch(string signature, string what, IEnumerable<PlanLeaf> leaves, Func<PlanLeaf, string> field)
        {
            _w.Line();
            _w.Open(signature);
            var list = leaves.ToList();
            _w.Open("switch (name)");
            foreach (var l in list) _w.Line($"case {Quote(l.Name)}: return {field(l)};");
            _w.Line($"default: throw new ArgumentException($\"Model '{_plan.Name.Replace("\"", "")}' has no {what} '{{name}}'{(list.Count == 0 ? "." : "; it has " + string.Join(", ", list.Select(l => l.Name)).Replace("\"", "") + ".")}\", nameof(name));");
            _w.Close();
            _w.Close();
        }
        Switch("public Memory<float> Parameter(string name)", "parameter", _plan.Parameters, l => Field("_param_", l.Name));
        Switch("public Memory<float> Gradient(string name)", "parameter", _plan.Parameters, l => Field("_grad_", l.Name));
        Switch("public Memory<float> State(string name)", "state", _plan.States, l => Field("_state_", l.Name));
        Switch("public Span<float> InputBuffer(string name)", "float input", _plan.Inputs.Where(i => i.Kind == StorageKind.Input), l => Field("_input_", l.Name));
        Switch("public Span<int> LabelBuffer(string name)", "label input", _plan.Inputs.Where(i => i.Kind == StorageKind.Label), l => Field("_labels_", l.Name));
        var reserved = new HashSet<string>(StringComparer.Ordinal) { "Name", "MaxBatch", "Seed", "IsTraining", "TrainingSteps", "Inputs", "Parameters", "States", "OutputSize", "InputSize", "LabelSize", "Optimizer", "Predict", "Loss", "ComputeGradients", "TrainStep", "Parameter", "Gradient", "State", "InputBuffer", "LabelBuffer", _target.ClassName };
        _w.Line();
        foreach (var p in _plan.Parameters)
        {
            string name = Pascal(p.Name);
            if (!reserved.Add(name)) continue;
            _w.Line($"/// <summary>Parameter {p.Name.Replace("<", "").Replace("&", "")} {p.Shape}.</summary>");
            _w.Line($"public Span<float> {name} => {Field("_param_", p.Name)};");
        }
    }

    private void CheckBatch() =>
        _w.Line("if ((uint)(batch - 1) >= (uint)_maxBatch) throw new ArgumentOutOfRangeException(nameof(batch), batch, $\"The batch must be in [1, {_maxBatch}].\");");

    private string Param(PlanLeaf l) => l.Kind == StorageKind.Label ? $"ReadOnlySpan<int> {Ident(l.Name)}" : $"ReadOnlySpan<float> {Ident(l.Name)}";

    private void CopyIn(PlanLeaf l)
    {
        string p = Ident(l.Name);
        long per = l.Shape.ConstantSize;
        string kind = l.Kind == StorageKind.Label ? "labels" : l.IsFeature ? "input" : "targets";
        string unit = l.Kind == StorageKind.Label ? "ints" : "floats";
        string need = per == 1 ? "batch" : $"batch * {I(per)}";
        string text = per == 1 ? "batch" : $"batch*{I(per)}";
        _w.Line($"if ({p}.Length != {need}) throw new ArgumentException($\"{kind} '{l.Name}' needs {text} = {{{need}}} {unit}, got {{{p}.Length}}.\", nameof({p}));");
        _w.Line($"{p}.CopyTo({(l.Kind == StorageKind.Label ? Field("_labels_", l.Name) : Field("_input_", l.Name))});");
    }

    private void WriteTypedApi()
    {
        var features = Features;
        var lossInputs = features.Concat(LossInputs).ToArray();
        bool hasPredict = _plan.Program(ProgramKind.Predict) is not null;
        bool hasLoss = _plan.Program(ProgramKind.Loss) is not null;
        if (hasPredict && features.Length > 0)
        {
            _w.Line();
            _w.Line("/// <summary>Prediction for a batch (evaluation mode unless <see cref=\"IsTraining\"/>).</summary>");
            _w.Open($"public void Predict({string.Join(", ", features.Select(Param))}, int batch, Span<float> output)");
            CheckBatch();
            foreach (var f in features) CopyIn(f);
            _w.Line("Predict(batch, output);");
            _w.Close();
        }
        if (hasLoss && lossInputs.Length > 0)
        {
            string args = string.Join(", ", lossInputs.Select(Param));
            foreach (var (name, doc) in new[] { ("Loss", "The mean loss of a batch (evaluation mode unless <see cref=\"IsTraining\"/>)."), ("ComputeGradients", "Training-mode forward and backward pass: fills the gradients and returns the loss."), ("TrainStep", "Forward, backward, optimizer update and state updates; returns the loss.") })
            {
                _w.Line();
                _w.Line($"/// <summary>{doc}</summary>");
                _w.Open($"public float {name}({args}, int batch)");
                CheckBatch();
                foreach (var i in lossInputs) CopyIn(i);
                _w.Line($"return {name}(batch);");
                _w.Close();
            }
        }
    }

    private void CheckLabels()
    {
        foreach (var l in _plan.Inputs.Where(i => i.Kind == StorageKind.Label && i.Classes is int))
        {
            string f = Field("_labels_", l.Name);
            int classes = l.Classes!.Value;
            _w.Line($"for (int i = 0; i < batch; i++)");
            _w.Line($"    if ((uint){f}[i] >= {I(classes)}u) throw new ArgumentException($\"label '{l.Name}' at index {{i}} is {{{f}[i]}}, outside [0, {I(classes)}).\", {Quote(Ident(l.Name))});");
        }
    }

    private string ReadScalar(View v) => $"{Array(v.Buffer)}[{Offset(v.Buffer)}]";

    private void WriteBufferedApi()
    {
        var predict = _plan.Program(ProgramKind.Predict);
        var loss = _plan.Program(ProgramKind.Loss);
        var train = _plan.Program(ProgramKind.Train);
        bool separateTrainMode = !_plan.TrainModeSameAsEval;

        _w.Line();
        _w.Open("public void Predict(int batch, Span<float> output)");
        CheckBatch();
        if (predict is null) _w.Line($"throw new InvalidOperationException(\"Model '{_plan.Name}' declares no output.\");");
        else
        {
            var view = predict.Output("output")!;
            string need = view.Size.Code;
            _w.Line($"if (output.Length != {need}) throw new ArgumentException($\"output needs {(view.Size.PerBatch ? "batch*" + I(view.Size.Coef) : I(view.Size.Coef))} = {{{need}}} floats, got {{output.Length}}.\", nameof(output));");
            _w.Line("var arena = _arena;");
            _w.Line("_trainedBatch = 0;");
            if (separateTrainMode && _plan.Program(ProgramKind.PredictTrainMode) is ProgramPlan pt)
            {
                _w.Open("if (IsTraining)");
                _w.Line("RunPredictTrainMode(batch, _trainingSteps);");
                _w.Line($"{SpanOf(pt.Output("output")!)}.CopyTo(output);");
                _w.Line("return;");
                _w.Close();
            }
            _w.Line("RunPredict(batch, _trainingSteps);");
            _w.Line($"{SpanOf(view)}.CopyTo(output);");
        }
        _w.Close();

        _w.Line();
        _w.Open("public float Loss(int batch)");
        CheckBatch();
        if (loss is null) _w.Line($"throw new InvalidOperationException(\"Model '{_plan.Name}' declares no loss.\");");
        else
        {
            CheckLabels();
            _w.Line("var arena = _arena;");
            _w.Line("_trainedBatch = 0;");
            if (separateTrainMode && _plan.Program(ProgramKind.LossTrainMode) is ProgramPlan lt)
            {
                _w.Open("if (IsTraining)");
                _w.Line("RunLossTrainMode(batch, _trainingSteps);");
                _w.Line($"return {ReadScalar(lt.Output("loss")!)};");
                _w.Close();
            }
            _w.Line("RunLoss(batch, _trainingSteps);");
            _w.Line($"return {ReadScalar(loss.Output("loss")!)};");
        }
        _w.Close();

        _w.Line();
        _w.Open("public float ComputeGradients(int batch)");
        CheckBatch();
        if (train is null) _w.Line($"throw new InvalidOperationException(\"Model '{_plan.Name}' declares no loss.\");");
        else
        {
            CheckLabels();
            _w.Line("var arena = _arena;");
            _w.Line("RunTrain(batch, _trainingSteps);");
            if (train.Output("output") is not null) _w.Line("_trainedBatch = batch;");
            _w.Line($"return {ReadScalar(train.Output("loss")!)};");
        }
        _w.Close();

        _w.Line();
        _w.Open("public float TrainStep(int batch)");
        if (train is null) _w.Line($"throw new InvalidOperationException(\"Model '{_plan.Name}' declares no loss.\");");
        else
        {
            _w.Line("float loss = ComputeGradients(batch);");
            _w.Line("var arena = _arena;");
            foreach (var kv in train.Outputs.Where(o => o.Key.StartsWith("state:", StringComparison.Ordinal)))
            {
                string state = kv.Key.Substring("state:".Length);
                _w.Line($"{SpanOf(kv.Value)}.CopyTo({Field("_state_", state)});");
            }
            if (_plan.Parameters.Count > 0)
            {
                _w.Line("_optimizer.BeginStep();");
                for (int i = 0; i < _plan.Parameters.Count; i++)
                    _w.Line($"_optimizer.Update({I(i)}, {Field("_param_", _plan.Parameters[i].Name)}, {Field("_grad_", _plan.Parameters[i].Name)});");
            }
            _w.Line("_trainingSteps++;");
            _w.Line("return loss;");
        }
        _w.Close();

        _w.Line();
        _w.Line("/// <summary>The prediction of the last training pass (training mode, parameters before its update).</summary>");
        _w.Open("public void TrainingOutput(int batch, Span<float> output)");
        if (train?.Output("output") is not View trained)
            _w.Line($"throw new InvalidOperationException(\"Model '{_plan.Name}' declares {(train is null ? "no loss" : "no output")}.\");");
        else
        {
            string need = trained.Size.Code;
            _w.Line("if (_trainedBatch == 0) throw new InvalidOperationException(\"No training pass has run since the model's last Predict or Loss.\");");
            _w.Line("if (batch != _trainedBatch) throw new ArgumentOutOfRangeException(nameof(batch), batch, $\"The last training pass ran {_trainedBatch} examples.\");");
            _w.Line($"if (output.Length != {need}) throw new ArgumentException($\"output needs {(trained.Size.PerBatch ? "batch*" + I(trained.Size.Coef) : I(trained.Size.Coef))} = {{{need}}} floats, got {{output.Length}}.\", nameof(output));");
            _w.Line("var arena = _arena;");
            _w.Line($"{SpanOf(trained)}.CopyTo(output);");
        }
        _w.Close();
    }

    // ----- programs -------------------------------------------------------------------------

    private string WriteProgram(ProgramPlan p)
    {
        var w = new CodeWriter();
        string name = p.Kind.ToString();
        w.Line($"/// <summary>{name} program: {I(p.Kernels.Count)} kernels; arena {I(p.ArenaPerBatch)} floats per example + {I(p.ArenaConstant)}.</summary>");
        w.Open($"private void Run{name}(int batch, long step)");
        w.Line("float[] arena = _arena;");
        for (int i = 0; i < p.Kernels.Count; i++)
        {
            var k = p.Kernels[i];
            w.Line();
            w.Line($"// k{I(i)} {k.KindName}: {k.Comment}");
            string id = name + "K" + I(i);
            switch (k)
            {
                case LoopKernel loop: WriteLoop(w, loop, id); break;
                case GemmKernel gemm: WriteGemm(w, gemm, id); break;
                case ConvKernel conv: WriteConv(w, conv, id); break;
                case PoolKernel pool: WritePool(w, pool); break;
                case MoveKernel move: WriteMove(w, move); break;
            }
            foreach (var site in CheckedMode.Sites(k))   // shared with the IL JIT
                w.Line($"if (_checkFinite) {M}FiniteCheck.Check({SpanOf(site.View)}, {Quote(site.NodeText)}, {Quote(site.OpName)}, {Quote(site.File)}, {I(site.Line)});");
        }
        w.Close();
        return w.ToString();
    }

    private void WriteGemm(CodeWriter w, GemmKernel g, string id)
    {
        string ta = K + "Transpose." + (g.TransA ? "Transposed" : "None");
        string tb = K + "Transpose." + (g.TransB ? "Transposed" : "None");
        string epilogue = g.Epilogue is null ? "" : ", false, " + EpilogueStruct(g.Epilogue, id, g.N.Code, isConv: false);
        w.Line($"{K}Gemm.Multiply({ta}, {tb}, {g.M.Code}, {g.N.Code}, {g.K.Code},");
        w.Line($"    {SpanOf(g.A)}, {g.Lda.Code}, {SpanOf(g.B)}, {g.Ldb.Code},");
        w.Line($"    {SpanOf(g.C)}, {g.N.Code}{epilogue});");
    }

    private void WriteConv(CodeWriter w, ConvKernel c, string id)
    {
        string shape = ConvField(c);
        switch (c.Pass)
        {
            case ConvPass.Forward:
                string epi = c.Epilogue is null ? "" : ", " + EpilogueStruct(c.Epilogue, id, I((long)c.Window.OutH(c.Height) * c.Window.OutW(c.Width)), isConv: true);
                w.Line($"{K}Conv2d.Forward({shape}, {c.Batch.Code}, {SpanOf(c.First)}, {SpanOf(c.Second)},");
                w.Line($"    {SpanOf(c.Output)}, _workspace{epi});");
                break;
            case ConvPass.BackwardInput:
                w.Line($"{K}Conv2d.BackwardInput({shape}, {c.Batch.Code}, {SpanOf(c.First)}, {SpanOf(c.Second)},");
                w.Line($"    {SpanOf(c.Output)}, _workspace);");
                break;
            default:
                w.Line($"{K}Conv2d.BackwardFilter({shape}, {c.Batch.Code}, {SpanOf(c.First)}, {SpanOf(c.Second)},");
                w.Line($"    {SpanOf(c.Output)}, _workspace, false);");
                break;
        }
    }

    private void WritePool(CodeWriter w, PoolKernel p)
    {
        var win = p.Window;
        string args = $"{I(p.Channels)}, {I(p.Height)}, {I(p.Width)}, {I(win.KernelH)}, {I(win.KernelW)}, {I(win.StrideH)}, {I(win.StrideW)}, {I(win.PadH)}, {I(win.PadW)}";
        if (!_poolFields.TryGetValue(args, out var shape))
        {
            shape = "s_pool" + I(_poolFields.Count);
            _poolFields[args] = shape;
            _convDecls.Add($"private static readonly {K}Pool2dShape {shape} = new({args});");
        }
        string call = p.IsMax
            ? p.IsBackward ? $"MaxBackward({shape}, {p.Batch.Code}, {SpanOf(p.X!)}, {SpanOf(p.Dy!)}, " : $"MaxForward({shape}, {p.Batch.Code}, {SpanOf(p.X!)}, "
            : p.IsBackward ? $"AvgBackward({shape}, {p.Batch.Code}, {SpanOf(p.Dy!)}, " : $"AvgForward({shape}, {p.Batch.Code}, {SpanOf(p.X!)}, ";
        w.Line($"{K}Pool2d.{call}");
        w.Line($"    {SpanOf(p.Output)});");
    }

    private void WriteMove(CodeWriter w, MoveKernel m)
    {
        var outShape = m.Output.Shape;
        switch (m.Kind)
        {
            case "fill":
                w.Line($"{SpanOf(m.Output)}.Fill({ScalarCode(m.Value!)});");
                break;
            case "copy":
                w.Line($"{SpanOf(m.Inputs[0])}.CopyTo({SpanOf(m.Output)});");
                break;
            case "transpose":
            {
                var inShape = m.Inputs[0].Shape;
                w.Open("");
                w.Line($"ReadOnlySpan<float> source = {SpanOf(m.Inputs[0])};");
                w.Line($"Span<float> result = {SpanOf(m.Output)};");
                w.Open($"for (int o = 0; o < result.Length; o++)");
                w.Line("int rest = o, index = 0;");
                for (int a = outShape.Rank - 1; a >= 0; a--)
                {
                    var stride = SymSize.Product(inShape, m.Permutation[a] + 1, inShape.Rank);
                    string dim = SymSize.Dim(outShape[a]).Code;
                    if (a > 0) w.Line($"index += rest % ({dim}) * ({stride.Code}); rest /= {dim};");
                    else w.Line($"index += rest * ({stride.Code});");
                }
                w.Line("result[o] = source[index];");
                w.Close();
                w.Close();
                break;
            }
            case "concat":
            {
                var outer = SymSize.Product(outShape, 0, m.Axis);
                var inner = SymSize.Product(outShape, m.Axis + 1, outShape.Rank);
                w.Open("");
                w.Line($"Span<float> result = {SpanOf(m.Output)};");
                w.Open($"for (int o = 0, w = 0; o < {outer.Code}; o++)");
                foreach (var input in m.Inputs)
                {
                    string block = (SymSize.Const(input.Shape[m.Axis]) * inner).Code;
                    w.Line($"{SpanOf(input)}.Slice(o * ({block}), {block}).CopyTo(result.Slice(w, {block})); w += {block};");
                }
                w.Close();
                w.Close();
                break;
            }
            case "slice":
            {
                var inShape = m.Inputs[0].Shape;
                var outer = SymSize.Product(outShape, 0, m.Axis);
                var inner = SymSize.Product(outShape, m.Axis + 1, outShape.Rank);
                string inBlock = (SymSize.Const(inShape[m.Axis]) * inner).Code;
                string outBlock = (SymSize.Const(outShape[m.Axis]) * inner).Code;
                string start = (SymSize.Const(m.Start) * inner).Code;
                w.Open("");
                w.Line($"ReadOnlySpan<float> source = {SpanOf(m.Inputs[0])};");
                w.Line($"Span<float> result = {SpanOf(m.Output)};");
                w.Line($"for (int o = 0; o < {outer.Code}; o++)");
                w.Line($"    source.Slice(o * ({inBlock}) + {start}, {outBlock}).CopyTo(result.Slice(o * ({outBlock}), {outBlock}));");
                w.Close();
                break;
            }
        }
    }


    // ----- scalar expressions ---------------------------------------------------------------

    private string ScalarCode(ScalarExpr e) => e switch
    {
        LiteralExpr l => Lit(l.Value),
        CountExpr c => c.Count.PerBatch ? $"(float)({c.Count.Code})" : Lit(c.Count.Coef),
        OpExpr o => OpCode(o.Op, o.Args.Select(ScalarCode).ToArray(), null),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>C# for an op applied to operand expressions; <paramref name="v"/> is "Vector512"/"Vector256" or null for scalar.</summary>
    private string OpCode(Op op, string[] a, string? v)
    {
        string x = a.Length > 0 ? a[0] : "";
        string Z = v is null ? "0f" : $"{v}<float>.Zero";
        string One = v is null ? "1f" : $"{v}<float>.One";
        string C(double value) => v is null ? Lit(value) : $"{v}.Create({Lit(value)})";
        switch (op)
        {
            case NegOp: return $"-{x}";
            case ExpOp: return v is null ? $"MathF.Exp({x})" : $"{v}.Exp({x})";
            case LogOp: return v is null ? $"MathF.Log({x})" : $"{v}.Log({x})";
            case SqrtOp: return v is null ? $"MathF.Sqrt({x})" : $"{v}.Sqrt({x})";
            case AbsOp: return v is null ? $"MathF.Abs({x})" : $"{v}.Abs({x})";
            case SignOp: return v is null ? $"({x} > 0f ? 1f : {x} < 0f ? -1f : 0f)" : $"{v}.ConditionalSelect({v}.GreaterThan({x}, {Z}), {One}, {v}.ConditionalSelect({v}.LessThan({x}, {Z}), -{One}, {Z}))";
            case StepOp: return v is null ? $"({x} > 0f ? 1f : 0f)" : $"{v}.ConditionalSelect({v}.GreaterThan({x}, {Z}), {One}, {Z})";
            case ReluOp: return v is null ? $"({x} > 0f ? {x} : 0f)" : $"{v}.Max({x}, {Z})";
            case LeakyReluOp l: return v is null ? $"({x} > 0f ? {x} : {Lit(l.Alpha)} * {x})" : $"{v}.ConditionalSelect({v}.GreaterThan({x}, {Z}), {x}, {x} * {C(l.Alpha)})";
            case EluOp e: return v is null ? $"({x} > 0f ? {x} : {Lit(e.Alpha)} * (MathF.Exp({x}) - 1f))" : $"{v}.ConditionalSelect({v}.GreaterThan({x}, {Z}), {x}, ({v}.Exp({x}) - {One}) * {C(e.Alpha)})";
            case SigmoidOp: return v is null ? $"(1f / (1f + MathF.Exp(-{x})))" : $"({One} / ({One} + {v}.Exp(-{x})))";
            case TanhOp:
                if (v is null) return $"MathF.Tanh({x})";
                _needsTanh = true;
                return $"Tanh{v.Substring(6)}({x})";
            case PowScalarOp p:
            {
                double e = p.Exponent;
                if (e == 0) return One;
                if (e == 1) return x;
                if (e == 2) return $"({x} * {x})";
                if (e == 3) return $"({x} * {x} * {x})";
                if (e == 0.5) return v is null ? $"MathF.Sqrt({x})" : $"{v}.Sqrt({x})";
                if (e == -1) return $"({One} / {x})";
                if (v is null) return $"MathF.Pow({x}, {Lit(e)})";
                if (e == Math.Floor(e) && Math.Abs(e) < 1e9)
                {
                    string mag = $"{v}.Exp({v}.Log({v}.Abs({x})) * {C(e)})";
                    return ((long)e) % 2 != 0 ? $"{v}.CopySign({mag}, {x})" : mag;
                }
                return $"{v}.Exp({v}.Log({x}) * {C(e)})";
            }
            case AddOp: return $"({a[0]} + {a[1]})";
            case SubOp: return $"({a[0]} - {a[1]})";
            case MulOp: return $"({a[0]} * {a[1]})";
            case DivOp: return $"({a[0]} / {a[1]})";
            case PowOp: return v is null ? $"MathF.Pow({a[0]}, {a[1]})" : $"{v}.Exp({v}.Log({a[0]}) * {a[1]})";
            case MaximumOp: return v is null ? $"MathF.Max({a[0]}, {a[1]})" : $"{v}.Max({a[0]}, {a[1]})";
            case MinimumOp: return v is null ? $"MathF.Min({a[0]}, {a[1]})" : $"{v}.Min({a[0]}, {a[1]})";
            case EqualOp: return v is null ? $"({a[0]} == {a[1]} ? 1f : 0f)" : $"{v}.ConditionalSelect({v}.Equals({a[0]}, {a[1]}), {One}, {Z})";
            case BroadcastToOp: return x;
            default: throw new NotSupportedException($"The op '{op.Name}' has no loop form yet.");
        }
    }

    private void WriteTanhHelpers()
    {
        foreach (var v in new[] { "Vector512", "Vector256" })
        {
            _w.Line();
            _w.Line("[MethodImpl(MethodImplOptions.AggressiveInlining)]");
            _w.Open($"private static {v}<float> Tanh{v.Substring(6)}({v}<float> x)");
            _w.Line($"var e = {v}.Exp({v}.Abs(x) * {v}.Create(-2f));");
            _w.Line($"return {v}.CopySign(({v}<float>.One - e) / ({v}<float>.One + e), x);");
            _w.Close();
        }
    }

    // ----- loops ----------------------------------------------------------------------------

    /// <summary>Element index of an indexer (operand or reducer output) at flat domain position <paramref name="f"/>.</summary>
    private static string IndexCode(SymSize[] strides, Shape domain, string f)
    {
        var terms = new List<string>();
        foreach (var run in LoopIndexing.Runs(strides, domain))
        {
            string t = run.Inner.IsOne ? f : $"{f} / ({run.Inner.Code})";
            if (!run.Leading) t = t == f ? $"{f} % ({run.Extent.Code})" : $"({t}) % ({run.Extent.Code})";
            if (!run.Stride.IsOne) t = $"({t}) * ({run.Stride.Code})";
            terms.Add(t);
        }
        return terms.Count == 0 ? "0" : string.Join(" + ", terms);
    }

    private static bool Present(SymSize[] strides, Shape domain, int innerAxis)
    {
        for (int a = innerAxis; a < domain.Rank; a++)
            if (domain[a] != 1 && strides[a].Coef != 0) return true;
        return false;
    }

    private sealed class LoopNames
    {
        public Func<int, string> OperandBase = _ => "0";
        public Func<int, string> StoreBase = _ => "0";
        public string F = "f";
        public string Len = "len";
        public Func<int, string> Key = _ => "0UL";
    }

    /// <summary>A fused loop kernel in the program body.</summary>
    private void WriteLoop(CodeWriter w, LoopKernel k, string id)
    {
        w.Open("");
        for (int s = 0; s < k.Scalars.Count; s++) w.Line($"float s{I(s)} = {ScalarCode(k.Scalars[s])};");
        for (int o = 0; o < k.Operands.Count; o++)
        {
            var op = k.Operands[o];
            string type = op.IsLabel ? "int" : "float";
            w.Line($"ref {type} r{I(o)} = ref MemoryMarshal.GetReference({(op.IsLabel ? $"{Array(op.Source.Buffer)}.AsSpan(0, {op.Source.Size.Code})" : SpanOf(op.Source))});");
        }
        for (int i = 0; i < k.Instructions.Count; i++)
            if (k.Instructions[i].Store is View store) w.Line($"ref float w{I(i)} = ref MemoryMarshal.GetReference({SpanOf(store)});");
        for (int r = 0; r < k.Reducers.Count; r++)
        {
            var red = k.Reducers[r];
            w.Line($"Span<float> q{I(r)}Span = {SpanOf(red.Output)};");
            if (red.Kind == ReduceKind.Sum) w.Line($"q{I(r)}Span.Clear();");
            else if (red.Kind == ReduceKind.Max) w.Line($"q{I(r)}Span.Fill(float.NegativeInfinity);");
            w.Line($"ref float q{I(r)} = ref MemoryMarshal.GetReference(q{I(r)}Span);");
        }
        var dropouts = k.Instructions.Select((ins, i) => (ins, i)).Where(t => t.ins.Node.Op is DropoutMaskOp).ToList();
        foreach (var (ins, i) in dropouts)
            w.Line($"ulong key{I(i)} = {M}CounterRandom.StreamKey(_seed, {I(((DropoutMaskOp)ins.Node.Op).Stream)}UL, step);");
        string total = SymSize.Of(k.Domain).Code;
        string inner = k.Inner.Code;
        w.Line($"int len = {inner};");
        w.Open($"for (int f = 0; f < {total}; f += len)");
        var names = new LoopNames
        {
            OperandBase = o => IndexCode(k.Operands[o].Strides, k.Domain, "f"),
            StoreBase = _ => "f",
            Key = i => "key" + I(i),
        };
        WriteChunk(w, k, names, epilogue: false);
        w.Close();
        w.Close();
    }

    /// <summary>Declares the epilogue struct and returns the expression constructing it.</summary>
    private string EpilogueStruct(LoopKernel k, string id, string columns, bool isConv)
    {
        var s = new CodeWriter();
        string name = id + "Epilogue";
        var fields = new List<(string Type, string Name, string Value)> { ("int", "_batch", "batch") };
        for (int o = 0; o < k.Operands.Count; o++)
        {
            if (o == k.EpilogueOperand) continue;
            var op = k.Operands[o];
            fields.Add((op.IsLabel ? "int[]" : "float[]", "_a" + I(o), Array(op.Source.Buffer)));
            fields.Add(("int", "_o" + I(o), Offset(op.Source.Buffer)));
        }
        for (int i = 0; i < k.Instructions.Count; i++)
        {
            if (i == k.InPlaceInstr || k.Instructions[i].Store is not View store) continue;
            fields.Add(("float[]", "_w" + I(i), Array(store.Buffer)));
            fields.Add(("int", "_wo" + I(i), Offset(store.Buffer)));
        }
        for (int sc = 0; sc < k.Scalars.Count; sc++) fields.Add(("float", "_s" + I(sc), ScalarCode(k.Scalars[sc])));
        for (int i = 0; i < k.Instructions.Count; i++)
            if (k.Instructions[i].Node.Op is DropoutMaskOp dm)
                fields.Add(("ulong", "_key" + I(i), $"{M}CounterRandom.StreamKey(_seed, {I(dm.Stream)}UL, step)"));

        s.Line($"// Epilogue of {id}: {k.Comment}");
        s.Open($"private readonly struct {name} : {K}IEpilogue");
        foreach (var f in fields) s.Line($"private readonly {f.Type} {f.Name};");
        s.Line();
        s.Open($"public {name}({string.Join(", ", fields.Select(f => f.Type + " " + f.Name.TrimStart('_')))})");
        foreach (var f in fields) s.Line($"{f.Name} = {f.Name.TrimStart('_')};");
        s.Close();
        s.Line();
        s.Open("public void Apply(Span<float> values, int row, int col)");
        s.Line("int batch = _batch;");
        s.Line($"int f = row * ({columns}) + col;");
        s.Line("int len = values.Length;");
        s.Line("ref float v = ref MemoryMarshal.GetReference(values);");
        for (int sc = 0; sc < k.Scalars.Count; sc++) s.Line($"float s{I(sc)} = _s{I(sc)};");
        for (int o = 0; o < k.Operands.Count; o++)
        {
            if (o == k.EpilogueOperand) { s.Line($"ref float r{I(o)} = ref v;"); continue; }
            string type = k.Operands[o].IsLabel ? "int" : "float";
            s.Line($"ref {type} r{I(o)} = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_a{I(o)}), _o{I(o)});");
        }
        for (int i = 0; i < k.Instructions.Count; i++)
        {
            if (i == k.InPlaceInstr) s.Line($"ref float w{I(i)} = ref v;");
            else if (k.Instructions[i].Store is not null) s.Line($"ref float w{I(i)} = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_w{I(i)}), _wo{I(i)});");
        }
        var names = new LoopNames
        {
            OperandBase = o => o == k.EpilogueOperand ? "0" : IndexCode(k.Operands[o].Strides, k.Domain, "f"),
            StoreBase = i => i == k.InPlaceInstr ? "0" : "f",
            Key = i => "_key" + I(i),
        };
        WriteChunk(s, k, names, epilogue: true);
        s.Close();
        s.Close();
        _structs.Add(s.ToString());
        return $"new {name}({string.Join(", ", fields.Select(f => f.Value))})";
    }

    /// <summary>One run of <c>len</c> elements starting at flat position <c>f</c>: bases, then vector and scalar loops.</summary>
    private void WriteChunk(CodeWriter w, LoopKernel k, LoopNames names, bool epilogue)
    {
        var present = k.Operands.Select(o => Present(o.Strides, k.Domain, k.InnerAxis)).ToArray();
        for (int o = 0; o < k.Operands.Count; o++)
        {
            string b = names.OperandBase(o);
            w.Line($"int b{I(o)} = {b};");
        }
        var reducedRun = k.Reducers.Select(r => !Present(r.OutStrides, k.Domain, k.InnerAxis)).ToArray();
        for (int r = 0; r < k.Reducers.Count; r++)
            w.Line($"int ob{I(r)} = {IndexCode(k.Reducers[r].OutStrides, k.Domain, "f")};");

        if (k.Reducers.Count == 1 && k.Reducers[0].Kind == ReduceKind.LogSumExp)
        {
            WriteLogSumExpRun(w, k);
            return;
        }
        for (int r = 0; r < k.Reducers.Count; r++)
            if (reducedRun[r]) w.Line($"float acc{I(r)} = {(k.Reducers[r].Kind == ReduceKind.Max ? "float.NegativeInfinity" : "0f")};");
        bool vector = k.Vectorizable && (k.Inner.PerBatch || k.Inner.Coef >= 8 || epilogue);
        w.Line("int j = 0;");
        if (vector)
        {
            // After the 16-wide loop, an 8-wide one takes a remainder of 8-15 (e.g. rows of 10 classes) off the scalar loop.
            w.Open("if (Vector512.IsHardwareAccelerated)");
            WriteVectorLoop(w, k, names, present, reducedRun, "Vector512", 16);
            w.Close();
            w.Open("if (Vector256.IsHardwareAccelerated)");
            WriteVectorLoop(w, k, names, present, reducedRun, "Vector256", 8);
            w.Close();
        }
        w.Open("for (; j < len; j++)");
        WriteBody(w, k, names, present, reducedRun, null);
        w.Close();
        for (int r = 0; r < k.Reducers.Count; r++)
        {
            if (!reducedRun[r]) continue;
            w.Line(k.Reducers[r].Kind == ReduceKind.Max
                ? $"Unsafe.Add(ref q{I(r)}, ob{I(r)}) = MathF.Max(Unsafe.Add(ref q{I(r)}, ob{I(r)}), acc{I(r)});"
                : $"Unsafe.Add(ref q{I(r)}, ob{I(r)}) += acc{I(r)};");
        }
    }

    private void WriteVectorLoop(CodeWriter w, LoopKernel k, LoopNames names, bool[] present, bool[] reducedRun, string v, int lanes)
    {
        for (int o = 0; o < k.Operands.Count; o++)
            if (!present[o] && !k.Operands[o].IsLabel) w.Line($"var c{I(o)} = {v}.Create(Unsafe.Add(ref r{I(o)}, b{I(o)}));");
        for (int s = 0; s < k.Scalars.Count; s++) w.Line($"var vs{I(s)} = {v}.Create(s{I(s)});");
        for (int r = 0; r < k.Reducers.Count; r++)
            if (reducedRun[r]) w.Line($"var vacc{I(r)} = {(k.Reducers[r].Kind == ReduceKind.Max ? $"{v}.Create(float.NegativeInfinity)" : $"{v}<float>.Zero")};");
        w.Open($"for (; j <= len - {I(lanes)}; j += {I(lanes)})");
        WriteBody(w, k, names, present, reducedRun, v);
        w.Close();
        for (int r = 0; r < k.Reducers.Count; r++)
        {
            if (!reducedRun[r]) continue;
            if (k.Reducers[r].Kind == ReduceKind.Max)
                w.Line($"for (int lane = 0; lane < {I(lanes)}; lane++) acc{I(r)} = MathF.Max(acc{I(r)}, vacc{I(r)}.GetElement(lane));");
            else w.Line($"acc{I(r)} += {v}.Sum(vacc{I(r)});");
        }
    }

    private string ArgCode(LoopKernel k, Arg a, bool[] present, string? v) => a.Kind switch
    {
        ArgKind.Scalar => v is null ? "s" + I(a.Index) : "vs" + I(a.Index),
        ArgKind.Temp => "t" + I(a.Index),
        _ => v is null
            ? present[a.Index] ? $"Unsafe.Add(ref r{I(a.Index)}, b{I(a.Index)} + j)" : $"Unsafe.Add(ref r{I(a.Index)}, b{I(a.Index)})"
            : present[a.Index] ? $"{v}.LoadUnsafe(ref r{I(a.Index)}, (nuint)(b{I(a.Index)} + j))" : "c" + I(a.Index),
    };

    private void WriteBody(CodeWriter w, LoopKernel k, LoopNames names, bool[] present, bool[] reducedRun, string? v)
    {
        for (int i = 0; i < k.Instructions.Count; i++)
        {
            var ins = k.Instructions[i];
            string expr;
            switch (ins.Node.Op)
            {
                case OneHotOp oh:
                {
                    var label = ins.Args[0];
                    string l = $"Unsafe.Add(ref r{I(label.Index)}, b{I(label.Index)}{(present[label.Index] ? " + j" : "")})";
                    expr = $"((f + j) % {I(oh.Classes)} == {l} ? 1f : 0f)";
                    break;
                }
                case DropoutMaskOp dm:
                    expr = $"({M}CounterRandom.Uniform({names.Key(i)}, f + j) < {Lit(dm.Probability)} ? 0f : {Lit(1 / (1 - dm.Probability))})";
                    break;
                default:
                    expr = OpCode(ins.Node.Op, ins.Args.Select(a => ArgCode(k, a, present, v)).ToArray(), v);
                    break;
            }
            w.Line($"var t{I(i)} = {expr}; // {ins.Node.Ref} = {ins.Node.Op.Key}");
        }
        // Stores come after every read of the iteration: a store may reuse (in place) a buffer read above.
        for (int i = 0; i < k.Instructions.Count; i++)
        {
            if (k.Instructions[i].Store is null) continue;
            string b = names.StoreBase(i);
            string at = b == "0" ? "j" : $"{b} + j";
            w.Line(v is null ? $"Unsafe.Add(ref w{I(i)}, {at}) = t{I(i)};" : $"t{I(i)}.StoreUnsafe(ref w{I(i)}, (nuint)({at}));");
        }
        for (int r = 0; r < k.Reducers.Count; r++)
        {
            var red = k.Reducers[r];
            string x = ArgCode(k, red.Input, present, v);
            bool max = red.Kind == ReduceKind.Max;
            if (reducedRun[r])
            {
                string acc = v is null ? "acc" + I(r) : "vacc" + I(r);
                w.Line(max ? $"{acc} = {(v is null ? "MathF" : v)}.Max({acc}, {x});" : $"{acc} += {x};");
            }
            else if (v is null)
            {
                w.Line(max ? $"Unsafe.Add(ref q{I(r)}, ob{I(r)} + j) = MathF.Max(Unsafe.Add(ref q{I(r)}, ob{I(r)} + j), {x});" : $"Unsafe.Add(ref q{I(r)}, ob{I(r)} + j) += {x};");
            }
            else
            {
                string cur = $"{v}.LoadUnsafe(ref q{I(r)}, (nuint)(ob{I(r)} + j))";
                w.Line(max ? $"{v}.Max({cur}, {x}).StoreUnsafe(ref q{I(r)}, (nuint)(ob{I(r)} + j));" : $"({cur} + {x}).StoreUnsafe(ref q{I(r)}, (nuint)(ob{I(r)} + j));");
            }
        }
    }

    private void WriteLogSumExpRun(CodeWriter w, LoopKernel k)
    {
        // The whole reduced run is this chunk: its maximum, then the sum of shifted exponentials.
        var arg = k.Reducers[0].Input;
        string Scalar(string j) => $"Unsafe.Add(ref r{I(arg.Index)}, b{I(arg.Index)} + {j})";
        string Vec(string v) => $"{v}.LoadUnsafe(ref r{I(arg.Index)}, (nuint)(b{I(arg.Index)} + j))";
        w.Line("float max = float.NegativeInfinity;");
        w.Line("int j = 0;");
        foreach (var (v, lanes) in new[] { ("Vector512", 16), ("Vector256", 8) })
        {
            w.Open(v == "Vector512" ? "if (Vector512.IsHardwareAccelerated && len >= 16)" : "else if (Vector256.IsHardwareAccelerated && len >= 8)");
            w.Line($"var vmax = {v}.Create(float.NegativeInfinity);");
            w.Line($"for (; j <= len - {I(lanes)}; j += {I(lanes)}) vmax = {v}.Max(vmax, {Vec(v)});");
            w.Line($"for (int lane = 0; lane < {I(lanes)}; lane++) max = MathF.Max(max, vmax.GetElement(lane));");
            w.Close();
        }
        w.Line($"for (; j < len; j++) max = MathF.Max(max, {Scalar("j")});");
        w.Line("float sum = 0f;");
        w.Line("j = 0;");
        foreach (var (v, lanes) in new[] { ("Vector512", 16), ("Vector256", 8) })
        {
            w.Open(v == "Vector512" ? "if (Vector512.IsHardwareAccelerated && len >= 16)" : "else if (Vector256.IsHardwareAccelerated && len >= 8)");
            w.Line($"var vmax = {v}.Create(max);");
            w.Line($"var vsum = {v}<float>.Zero;");
            w.Line($"for (; j <= len - {I(lanes)}; j += {I(lanes)}) vsum += {v}.Exp({Vec(v)} - vmax);");
            w.Line($"sum += {v}.Sum(vsum);");
            w.Close();
        }
        w.Line($"for (; j < len; j++) sum += MathF.Exp({Scalar("j")} - max);");
        w.Line("Unsafe.Add(ref q0, ob0) = float.IsNegativeInfinity(max) ? max : max + MathF.Log(sum);");
    }
}
