using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Lowering;

/// <summary>
/// A size that is a constant or a constant times the batch: <c>Coef</c> or <c>Coef·N</c>.
/// Every tensor size in a graph with one symbolic batch dimension has this form.
/// </summary>
public readonly struct SymSize : IEquatable<SymSize>
{
    /// <summary>Creates a size.</summary>
    public SymSize(long coef, bool perBatch)
    {
        Coef = coef;
        PerBatch = perBatch;
    }

    /// <summary>The constant factor.</summary>
    public long Coef { get; }

    /// <summary>True when the size is multiplied by the batch.</summary>
    public bool PerBatch { get; }

    /// <summary>The value for a given batch.</summary>
    public long Value(int batch) => PerBatch ? Coef * batch : Coef;

    /// <summary>A constant size.</summary>
    public static SymSize Const(long value) => new(value, false);

    /// <summary>Product of two sizes (at most one of which may involve the batch in practice).</summary>
    public static SymSize operator *(SymSize a, SymSize b) => new(a.Coef * b.Coef, a.PerBatch || b.PerBatch);

    /// <summary>True for the constant 1.</summary>
    public bool IsOne => Coef == 1 && !PerBatch;

    /// <summary>The size of one dimension (<see cref="Shape.Batch"/> is N).</summary>
    public static SymSize Dim(int d) => d == Shape.Batch ? new SymSize(1, true) : Const(d);

    /// <summary>Product of dimensions [from, to).</summary>
    public static SymSize Product(Shape shape, int from, int to)
    {
        long c = 1;
        bool b = false;
        for (int i = from; i < to; i++)
        {
            if (shape[i] == Shape.Batch) b = true;
            else c *= shape[i];
        }
        return new SymSize(c, b);
    }

    /// <summary>Total elements of a shape.</summary>
    public static SymSize Of(Shape shape) => Product(shape, 0, shape.Rank);

    /// <summary>C# text: "128", "batch" or "128 * batch".</summary>
    public string Code => !PerBatch ? Coef.ToString(CultureInfo.InvariantCulture) : Coef == 1 ? "batch" : Coef.ToString(CultureInfo.InvariantCulture) + " * batch";

    /// <inheritdoc />
    public bool Equals(SymSize other) => Coef == other.Coef && PerBatch == other.PerBatch;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SymSize s && Equals(s);

    /// <inheritdoc />
    public override int GetHashCode() => (int)Coef * 2 + (PerBatch ? 1 : 0);

    /// <inheritdoc />
    public override string ToString() => !PerBatch ? Coef.ToString(CultureInfo.InvariantCulture) : Coef.ToString(CultureInfo.InvariantCulture) + "N";
}

/// <summary>Where a buffer lives.</summary>
public enum StorageKind
{
    /// <summary>A slice of the model's planned float arena (intermediates).</summary>
    Arena,
    /// <summary>The stable storage of a float input (features or float targets), sized for the max batch.</summary>
    Input,
    /// <summary>The stable storage of integer class labels.</summary>
    Label,
    /// <summary>A parameter's storage.</summary>
    Parameter,
    /// <summary>A parameter's gradient storage.</summary>
    Gradient,
    /// <summary>A state tensor's storage.</summary>
    State,
    /// <summary>A constant array baked into the code.</summary>
    Constant,
}

/// <summary>A contiguous float (or int, for labels) buffer. Arena buffers carry a planned offset a·N + b.</summary>
public sealed class PlanBuffer
{
    internal PlanBuffer(int id, StorageKind kind, string name, SymSize size)
    {
        Id = id;
        Kind = kind;
        Name = name;
        Size = size;
    }

    /// <summary>Index in the program's buffer list.</summary>
    public int Id { get; }

    /// <summary>Where it lives.</summary>
    public StorageKind Kind { get; }

    /// <summary>The leaf, parameter or constant name; for arena buffers "tN" after the first value stored.</summary>
    public string Name { get; }

    /// <summary>Number of elements.</summary>
    public SymSize Size { get; }

    /// <summary>Arena offset: constant part.</summary>
    public long OffsetConstant { get; internal set; }

    /// <summary>Arena offset: per-batch part (offset = OffsetPerBatch·N + OffsetConstant).</summary>
    public long OffsetPerBatch { get; internal set; }

    /// <summary>For <see cref="StorageKind.Constant"/>: the values.</summary>
    public double[]? ConstantData { get; internal set; }

    /// <summary>Index of the constant among the model's constants.</summary>
    public int ConstantIndex { get; internal set; }

    /// <summary>C# text of the arena offset.</summary>
    public string OffsetCode
    {
        get
        {
            string c = OffsetConstant.ToString(CultureInfo.InvariantCulture);
            if (OffsetPerBatch == 0) return c;
            string b = OffsetPerBatch == 1 ? "batch" : OffsetPerBatch.ToString(CultureInfo.InvariantCulture) + " * batch";
            return OffsetConstant == 0 ? b : c + " + " + b;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Kind == StorageKind.Arena ? $"arena[{OffsetPerBatch}N+{OffsetConstant}, {Size}]" : $"{Kind}:{Name}";
}

/// <summary>A buffer seen with a shape (a reshape is a new view of the same buffer).</summary>
public sealed class View
{
    /// <summary>Creates a view.</summary>
    public View(PlanBuffer buffer, Shape shape)
    {
        Buffer = buffer;
        Shape = shape;
    }

    /// <summary>The buffer.</summary>
    public PlanBuffer Buffer { get; }

    /// <summary>The shape it is read or written as.</summary>
    public Shape Shape { get; }

    /// <summary>Elements.</summary>
    public SymSize Size => SymSize.Of(Shape);
}

/// <summary>A scalar expression evaluated once per kernel call: literals, the batch size and pointwise ops on them.</summary>
public abstract class ScalarExpr
{
}

/// <summary>A literal.</summary>
public sealed class LiteralExpr : ScalarExpr
{
    /// <summary>Creates it.</summary>
    public LiteralExpr(double value) => Value = value;
    /// <summary>The value.</summary>
    public double Value { get; }
}

/// <summary>An element count that may involve the batch (a mean's divisor).</summary>
public sealed class CountExpr : ScalarExpr
{
    /// <summary>Creates it.</summary>
    public CountExpr(SymSize count) => Count = count;
    /// <summary>The count.</summary>
    public SymSize Count { get; }
}

/// <summary>A pointwise op applied to scalar expressions.</summary>
public sealed class OpExpr : ScalarExpr
{
    /// <summary>Creates it.</summary>
    public OpExpr(Op op, ScalarExpr[] args)
    {
        Op = op;
        Args = args;
    }
    /// <summary>The op (a unary or binary pointwise op).</summary>
    public Op Op { get; }
    /// <summary>Operands.</summary>
    public ScalarExpr[] Args { get; }
}

/// <summary>Where a loop instruction's operand comes from.</summary>
public enum ArgKind
{
    /// <summary>A buffer read (<see cref="LoopKernel.Operands"/>).</summary>
    Operand,
    /// <summary>An earlier instruction of the same loop.</summary>
    Temp,
    /// <summary>A hoisted scalar (<see cref="LoopKernel.Scalars"/>).</summary>
    Scalar,
}

/// <summary>An instruction argument.</summary>
public readonly struct Arg
{
    /// <summary>Creates it.</summary>
    public Arg(ArgKind kind, int index)
    {
        Kind = kind;
        Index = index;
    }
    /// <summary>Kind.</summary>
    public ArgKind Kind { get; }
    /// <summary>Index in the list the kind names.</summary>
    public int Index { get; }
}

/// <summary>
/// A buffer read by a loop: for each domain axis, the stride of the buffer's element (0 where it is broadcast).
/// Element index = Σ ((flat / Inner[axis]) mod Dims[axis]) · Strides[axis].
/// </summary>
public sealed class LoopOperand
{
    internal LoopOperand(View source, SymSize[] strides, bool isLabel)
    {
        Source = source;
        Strides = strides;
        IsLabel = isLabel;
    }
    /// <summary>What is read.</summary>
    public View Source { get; }
    /// <summary>Per domain axis, the operand element stride (0 = broadcast).</summary>
    public SymSize[] Strides { get; }
    /// <summary>True for integer labels (read by one_hot).</summary>
    public bool IsLabel { get; }
}

/// <summary>One pointwise node computed in a loop.</summary>
public sealed class LoopInstr
{
    internal LoopInstr(Node node, Arg[] args) { Node = node; Args = args; }
    /// <summary>The node (its op says what to compute).</summary>
    public Node Node { get; }
    /// <summary>Operands in the op's order (one_hot: its label operand; dropout_mask: none used).</summary>
    public Arg[] Args { get; }
    /// <summary>Where the value is stored, when something outside the loop needs it.</summary>
    public View? Store { get; internal set; }
}

/// <summary>How a reduction combines.</summary>
public enum ReduceKind
{
    /// <summary>Σ.</summary>
    Sum,
    /// <summary>max.</summary>
    Max,
    /// <summary>log Σ exp (two passes over each reduced run: max, then the shifted sum).</summary>
    LogSumExp,
}

/// <summary>A reduction fed by a loop value, accumulated into its output buffer.</summary>
public sealed class LoopReducer
{
    internal LoopReducer(Node node, ReduceKind kind, Arg input, SymSize[] outStrides)
    {
        Node = node;
        Kind = kind;
        Input = input;
        OutStrides = outStrides;
    }
    /// <summary>The reduction node.</summary>
    public Node Node { get; }
    /// <summary>Sum, max or logsumexp.</summary>
    public ReduceKind Kind { get; }
    /// <summary>The reduced value.</summary>
    public Arg Input { get; }
    /// <summary>Per domain axis, the output element stride (0 on reduced axes).</summary>
    public SymSize[] OutStrides { get; }
    /// <summary>The output.</summary>
    public View Output { get; internal set; } = null!;
}

/// <summary>Base of all kernels.</summary>
public abstract class PlanKernel
{
    /// <summary>The graph nodes it computes, in order.</summary>
    public List<Node> Nodes { get; } = new();

    /// <summary>"%5 = add(%3, %fc1.bias); %6 = relu(%5)  [fc1]" style comment.</summary>
    public string Comment { get; internal set; } = "";

    /// <summary>Short kind name for summaries ("loop", "gemm+epilogue", ...).</summary>
    public abstract string KindName { get; }
}

/// <summary>
/// A fused loop over the elements of <see cref="Domain"/>: pointwise instructions in order, stores of the
/// values needed elsewhere, and reductions accumulated on the fly. The loop walks chunks of
/// <see cref="Inner"/> contiguous elements in which every operand is either contiguous or constant
/// (so the chunk vectorizes) and every reducer either keeps or reduces all of the chunk.
/// </summary>
public sealed class LoopKernel : PlanKernel
{
    /// <summary>The iteration space.</summary>
    public Shape Domain { get; internal set; } = Shape.Scalar;
    /// <summary>Buffers read.</summary>
    public List<LoopOperand> Operands { get; } = new();
    /// <summary>Scalars computed once.</summary>
    public List<ScalarExpr> Scalars { get; } = new();
    /// <summary>Pointwise instructions in dependency order.</summary>
    public List<LoopInstr> Instructions { get; } = new();
    /// <summary>Reductions.</summary>
    public List<LoopReducer> Reducers { get; } = new();
    /// <summary>Length of the contiguous runs the loop is split into.</summary>
    public SymSize Inner { get; internal set; }
    /// <summary>Number of leading domain axes outside the inner runs.</summary>
    public int InnerAxis { get; internal set; }
    /// <summary>False when an instruction has no vector form (one_hot, dropout).</summary>
    public bool Vectorizable { get; internal set; }
    /// <summary>For epilogues: the operand that is the producing kernel's own output (the values being finished).</summary>
    public int EpilogueOperand { get; internal set; } = -1;
    /// <summary>For epilogues: the instruction whose value is written back in place into the producer's output.</summary>
    public int InPlaceInstr { get; internal set; } = -1;
    /// <inheritdoc />
    public override string KindName => Reducers.Count > 0 ? "loop+reduce" : "loop";
}

/// <summary>C = op(A)·op(B) through the runtime GEMM, optionally with a fused epilogue.</summary>
public sealed class GemmKernel : PlanKernel
{
    /// <summary>A is stored transposed.</summary>
    public bool TransA { get; internal set; }
    /// <summary>B is stored transposed.</summary>
    public bool TransB { get; internal set; }
    /// <summary>Rows of C.</summary>
    public SymSize M { get; internal set; }
    /// <summary>Columns of C.</summary>
    public SymSize N { get; internal set; }
    /// <summary>Summed dimension.</summary>
    public SymSize K { get; internal set; }
    /// <summary>A.</summary>
    public View A { get; internal set; } = null!;
    /// <summary>B.</summary>
    public View B { get; internal set; } = null!;
    /// <summary>C.</summary>
    public View C { get; internal set; } = null!;
    /// <summary>Leading dimension of A as stored.</summary>
    public SymSize Lda { get; internal set; }
    /// <summary>Leading dimension of B as stored.</summary>
    public SymSize Ldb { get; internal set; }
    /// <summary>Fused pointwise work on C (rows = rows of C, columns = columns of C).</summary>
    public LoopKernel? Epilogue { get; internal set; }
    /// <inheritdoc />
    public override string KindName => Epilogue is null ? "gemm" : "gemm+epilogue";
}

/// <summary>Which convolution pass.</summary>
public enum ConvPass
{
    /// <summary>y = conv(x, w).</summary>
    Forward,
    /// <summary>dx from dy and w.</summary>
    BackwardInput,
    /// <summary>dw from x and dy.</summary>
    BackwardFilter,
}

/// <summary>A convolution pass through the runtime kernel.</summary>
public sealed class ConvKernel : PlanKernel
{
    /// <summary>Which pass.</summary>
    public ConvPass Pass { get; internal set; }
    /// <summary>Input channels, height, width.</summary>
    public int Channels { get; internal set; }
    /// <summary>Input height.</summary>
    public int Height { get; internal set; }
    /// <summary>Input width.</summary>
    public int Width { get; internal set; }
    /// <summary>Output channels.</summary>
    public int OutChannels { get; internal set; }
    /// <summary>Geometry.</summary>
    public Window2d Window { get; internal set; } = null!;
    /// <summary>Images.</summary>
    public SymSize Batch { get; internal set; }
    /// <summary>Forward: x, dy, x.</summary>
    public View First { get; internal set; } = null!;
    /// <summary>Forward: w; input grad: w; filter grad: dy.</summary>
    public View Second { get; internal set; } = null!;
    /// <summary>The result.</summary>
    public View Output { get; internal set; } = null!;
    /// <summary>Index of this convolution's geometry among the program's shapes.</summary>
    public int ShapeIndex { get; internal set; }
    /// <summary>Fused per-channel pointwise work (forward only; rows = output channel, columns = spatial index).</summary>
    public LoopKernel? Epilogue { get; internal set; }
    /// <inheritdoc />
    public override string KindName => Pass switch
    {
        ConvPass.Forward => Epilogue is null ? "conv" : "conv+epilogue",
        ConvPass.BackwardInput => "conv-input-grad",
        _ => "conv-filter-grad",
    };
}

/// <summary>Pooling forward or backward over planes of H×W.</summary>
public sealed class PoolKernel : PlanKernel
{
    /// <summary>Max (else average).</summary>
    public bool IsMax { get; internal set; }
    /// <summary>Backward pass.</summary>
    public bool IsBackward { get; internal set; }
    /// <summary>Window.</summary>
    public Window2d Window { get; internal set; } = null!;
    /// <summary>Planes (N·C).</summary>
    public SymSize Planes { get; internal set; }
    /// <summary>Images (N).</summary>
    public SymSize Batch { get; internal set; }
    /// <summary>Channels (C).</summary>
    public int Channels { get; internal set; }
    /// <summary>Input height.</summary>
    public int Height { get; internal set; }
    /// <summary>Input width.</summary>
    public int Width { get; internal set; }
    /// <summary>Forward: x. Max backward: x. Avg backward: null.</summary>
    public View? X { get; internal set; }
    /// <summary>Backward: dy.</summary>
    public View? Dy { get; internal set; }
    /// <summary>Result.</summary>
    public View Output { get; internal set; } = null!;
    /// <inheritdoc />
    public override string KindName => (IsMax ? "maxpool" : "avgpool") + (IsBackward ? "-grad" : "");
}

/// <summary>Data movement: transpose, concat, slice or plain copy/fill.</summary>
public sealed class MoveKernel : PlanKernel
{
    /// <summary>"transpose", "concat", "slice", "copy" or "fill".</summary>
    public string Kind { get; internal set; } = "";
    /// <summary>Sources.</summary>
    public List<View> Inputs { get; } = new();
    /// <summary>Destination.</summary>
    public View Output { get; internal set; } = null!;
    /// <summary>Transpose permutation.</summary>
    public int[] Permutation { get; internal set; } = Array.Empty<int>();
    /// <summary>Concat or slice axis.</summary>
    public int Axis { get; internal set; }
    /// <summary>Slice start.</summary>
    public int Start { get; internal set; }
    /// <summary>Fill value.</summary>
    public ScalarExpr? Value { get; internal set; }
    /// <inheritdoc />
    public override string KindName => Kind;
}

/// <summary>What a program computes.</summary>
public enum ProgramKind
{
    /// <summary>Train-mode forward + backward: loss, gradients and state updates.</summary>
    Train,
    /// <summary>Eval-mode prediction.</summary>
    Predict,
    /// <summary>Eval-mode loss.</summary>
    Loss,
    /// <summary>Train-mode prediction (dropout and batch statistics, no updates).</summary>
    PredictTrainMode,
    /// <summary>Train-mode loss.</summary>
    LossTrainMode,
}

/// <summary>One lowered graph: kernels in order, where its outputs end up, and its arena size.</summary>
public sealed class ProgramPlan
{
    internal ProgramPlan(ProgramKind kind, ComputeGraph graph)
    {
        Kind = kind;
        Graph = graph;
    }

    /// <summary>Which program.</summary>
    public ProgramKind Kind { get; }

    /// <summary>The optimized graph it was lowered from.</summary>
    public ComputeGraph Graph { get; }

    /// <summary>Kernels in execution order.</summary>
    public List<PlanKernel> Kernels { get; } = new();

    /// <summary>All buffers it uses.</summary>
    public List<PlanBuffer> Buffers { get; } = new();

    /// <summary>Where each graph output is after the program ran (by output name).</summary>
    public List<KeyValuePair<string, View>> Outputs { get; } = new();

    /// <summary>Convolution geometries (index = <see cref="ConvKernel.ShapeIndex"/>).</summary>
    public List<ConvKernel> ConvShapes { get; } = new();

    /// <summary>Arena floats needed: constant part.</summary>
    public long ArenaConstant { get; internal set; }

    /// <summary>Arena floats needed: per-batch part.</summary>
    public long ArenaPerBatch { get; internal set; }

    /// <summary>Whether any kernel draws dropout masks.</summary>
    public bool UsesDropout { get; internal set; }

    /// <summary>The output named <paramref name="name"/>.</summary>
    public View? Output(string name)
    {
        foreach (var kv in Outputs) if (kv.Key == name) return kv.Value;
        return null;
    }

    /// <summary>One line per kernel: kind and the nodes it computes.</summary>
    public string Summary()
    {
        var lines = new List<string>();
        for (int i = 0; i < Kernels.Count; i++)
            lines.Add($"k{i.ToString(CultureInfo.InvariantCulture)} {Kernels[i].KindName}: {Kernels[i].Comment}");
        lines.Add($"arena = {ArenaPerBatch.ToString(CultureInfo.InvariantCulture)}·N + {ArenaConstant.ToString(CultureInfo.InvariantCulture)} floats");
        return string.Join("\n", lines);
    }
}

/// <summary>A leaf of the model as the generated class exposes it.</summary>
public sealed class PlanLeaf
{
    internal PlanLeaf(string name, Shape shape, StorageKind kind, Initializer? init, int? classes)
    {
        Name = name;
        Shape = shape;
        Kind = kind;
        Init = init;
        Classes = classes;
    }
    /// <summary>Leaf name.</summary>
    public string Name { get; }
    /// <summary>Shape (inputs carry the batch dimension).</summary>
    public Shape Shape { get; }
    /// <summary>Input, Label, Parameter or State.</summary>
    public StorageKind Kind { get; }
    /// <summary>Initializer of parameters and states.</summary>
    public Initializer? Init { get; }
    /// <summary>Number of classes of integer labels.</summary>
    public int? Classes { get; }
    /// <summary>True for feature inputs (float inputs that are not labels or targets).</summary>
    public bool IsFeature { get; internal set; }
    /// <summary>Elements per example for inputs; total for parameters and states.</summary>
    public long ElementsPerItem => Shape.ConstantSize;
}

/// <summary>
/// The compiled model in engine-neutral form: its leaves and its programs (train step, eval prediction,
/// eval loss, and the train-mode variants where they differ). Deterministic for a given model.
/// </summary>
public sealed class CompiledModelPlan
{
    internal CompiledModelPlan(string name) => Name = name;

    /// <summary>Model name.</summary>
    public string Name { get; }

    /// <summary>Feature inputs, float targets and integer labels, in declaration order.</summary>
    public List<PlanLeaf> Inputs { get; } = new();

    /// <summary>Parameters in declaration order.</summary>
    public List<PlanLeaf> Parameters { get; } = new();

    /// <summary>State tensors in declaration order.</summary>
    public List<PlanLeaf> States { get; } = new();

    /// <summary>Programs by kind (absent when the model has no loss or no prediction).</summary>
    public Dictionary<ProgramKind, ProgramPlan> Programs { get; } = new();

    /// <summary>Train-mode prediction/loss programs are the eval ones (the graphs are identical).</summary>
    public bool TrainModeSameAsEval { get; internal set; }

    /// <summary>Non-scalar constants baked into the code, by index.</summary>
    public List<double[]> Constants { get; } = new();

    /// <summary>The shape of the prediction, if any.</summary>
    public Shape? PredictionShape { get; internal set; }

    /// <summary>Dropout streams used by any program.</summary>
    public SortedSet<int> DropoutStreams { get; } = new();

    /// <summary>Largest arena any program needs.</summary>
    public (long PerBatch, long Constant) ArenaSize
    {
        get
        {
            long a = 0, b = 0;
            foreach (var p in Programs.Values)
            {
                a = Math.Max(a, p.ArenaPerBatch);
                b = Math.Max(b, p.ArenaConstant);
            }
            return (a, b);
        }
    }

    /// <summary>The program, or null.</summary>
    public ProgramPlan? Program(ProgramKind kind) => Programs.TryGetValue(kind, out var p) ? p : null;

    /// <summary>Text of all programs' kernel lists.</summary>
    public string Summary() => string.Join("\n\n", Programs.OrderBy(p => (int)p.Key).Select(p => "program " + p.Key + "\n" + p.Value.Summary()));
}
