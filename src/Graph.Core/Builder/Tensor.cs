using System;
using System.Linq;
using System.Runtime.CompilerServices;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Builder;

/// <summary>
/// A handle on a graph node with operators and fluent methods for every op. Methods record the
/// caller's file and line so shape errors point at the user's code; operators cannot take caller
/// information, so errors from them name the op and the shapes only.
/// </summary>
public sealed partial class Tensor
{
    internal Tensor(ModelBuilder builder, Node node)
    {
        Builder = builder;
        Node = node;
    }

    /// <summary>The model this tensor belongs to.</summary>
    public ModelBuilder Builder { get; }

    /// <summary>The node it refers to.</summary>
    public Node Node { get; }

    /// <summary>Shape.</summary>
    public Shape Shape => Node.Shape;

    /// <summary>Element type and shape.</summary>
    public TensorType Type => Node.Type;

    /// <summary>For integer labels: the number of classes, used by one-hot and the classification losses.</summary>
    public int? Classes { get; internal set; }

    /// <inheritdoc />
    public override string ToString() => $"{Node.Ref}: {Type}";

    private Tensor Unary(Op op, string? name, string file, int line) => Builder.Apply(op, new[] { this }, name, file, line);

    private Tensor Binary(Op op, Tensor other, string? name, string file, int line) => Builder.Apply(op, new[] { this, other }, name, file, line);

    private Tensor Scalar(double value) => Builder.Constant(value);

    // ----- arithmetic with broadcasting --------------------------------------------------

    /// <summary>Elementwise sum with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(Tensor a, double b) => a.Add(a.Scalar(b));
    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(double a, Tensor b) => b.Scalar(a).Add(b);
    /// <summary>Elementwise difference with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    /// <summary>Subtracts a scalar.</summary>
    public static Tensor operator -(Tensor a, double b) => a.Sub(a.Scalar(b));
    /// <summary>Scalar minus tensor.</summary>
    public static Tensor operator -(double a, Tensor b) => b.Scalar(a).Sub(b);
    /// <summary>Elementwise product with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    /// <summary>Scales by a scalar.</summary>
    public static Tensor operator *(Tensor a, double b) => a.Mul(a.Scalar(b));
    /// <summary>Scales by a scalar.</summary>
    public static Tensor operator *(double a, Tensor b) => b.Scalar(a).Mul(b);
    /// <summary>Elementwise quotient with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    /// <summary>Divides by a scalar.</summary>
    public static Tensor operator /(Tensor a, double b) => a.Div(a.Scalar(b));
    /// <summary>Scalar divided by tensor.</summary>
    public static Tensor operator /(double a, Tensor b) => b.Scalar(a).Div(b);
    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => a.Neg();

    /// <summary>this + other (broadcasting).</summary>
    public Tensor Add(Tensor other, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Binary(new AddOp(), other, name, file, line);
    /// <summary>this − other (broadcasting).</summary>
    public Tensor Sub(Tensor other, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Binary(new SubOp(), other, name, file, line);
    /// <summary>this · other (broadcasting).</summary>
    public Tensor Mul(Tensor other, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Binary(new MulOp(), other, name, file, line);
    /// <summary>this / other (broadcasting).</summary>
    public Tensor Div(Tensor other, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Binary(new DivOp(), other, name, file, line);
    /// <summary>this^other elementwise (broadcasting).</summary>
    public Tensor Pow(Tensor exponent, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Binary(new PowOp(), exponent, name, file, line);
    /// <summary>this^p for a constant p.</summary>
    public Tensor Pow(double p, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new PowScalarOp(p), name, file, line);
    /// <summary>this².</summary>
    public Tensor Square(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new PowScalarOp(2), name, file, line);
    /// <summary>Elementwise maximum (broadcasting).</summary>
    public Tensor Maximum(Tensor other, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Binary(new MaximumOp(), other, name, file, line);
    /// <summary>Elementwise minimum (broadcasting).</summary>
    public Tensor Minimum(Tensor other, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Binary(new MinimumOp(), other, name, file, line);
    /// <summary>1 where equal, else 0 (no gradient).</summary>
    public Tensor EqualTo(Tensor other, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Binary(new EqualOp(), other, name, file, line);
    /// <summary>Clamps into [min, max].</summary>
    public Tensor Clamp(double min, double max, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Maximum(Scalar(min), null, file, line).Minimum(Scalar(max), name, file, line);

    // ----- elementwise functions ----------------------------------------------------------

    /// <summary>−x.</summary>
    public Tensor Neg(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new NegOp(), name, file, line);
    /// <summary>eˣ.</summary>
    public Tensor Exp(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new ExpOp(), name, file, line);
    /// <summary>ln x.</summary>
    public Tensor Log(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new LogOp(), name, file, line);
    /// <summary>√x.</summary>
    public Tensor Sqrt(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new SqrtOp(), name, file, line);
    /// <summary>|x|.</summary>
    public Tensor Abs(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new AbsOp(), name, file, line);
    /// <summary>sign(x).</summary>
    public Tensor Sign(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new SignOp(), name, file, line);
    /// <summary>1 where x &gt; 0 else 0.</summary>
    public Tensor Step(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new StepOp(), name, file, line);
    /// <summary>max(x, 0).</summary>
    public Tensor Relu(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new ReluOp(), name, file, line);
    /// <summary>Leaky ReLU with slope <paramref name="alpha"/> for negative inputs (PyTorch default 0.01).</summary>
    public Tensor LeakyRelu(double alpha = 0.01, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new LeakyReluOp(alpha), name, file, line);
    /// <summary>ELU (PyTorch default α = 1).</summary>
    public Tensor Elu(double alpha = 1.0, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new EluOp(alpha), name, file, line);
    /// <summary>Logistic sigmoid.</summary>
    public Tensor Sigmoid(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new SigmoidOp(), name, file, line);
    /// <summary>Hyperbolic tangent.</summary>
    public Tensor Tanh(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Unary(new TanhOp(), name, file, line);

    /// <summary>log Σ exp over <paramref name="axis"/>, computed stably.</summary>
    public Tensor LogSumExp(int axis = -1, bool keepDims = false, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Unary(new LogSumExpOp(new[] { Ir.Shape.NormalizeAxis(axis, Shape.Rank) }, keepDims), name, file, line);

    /// <summary>Softmax over <paramref name="axis"/>: exp(x − logsumexp(x)).</summary>
    public Tensor Softmax(int axis = -1, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Sub(LogSumExp(axis, true, null, file, line), null, file, line).Exp(name, file, line);

    /// <summary>Log-softmax over <paramref name="axis"/>: x − logsumexp(x).</summary>
    public Tensor LogSoftmax(int axis = -1, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Sub(LogSumExp(axis, true, null, file, line), name, file, line);

    // ----- reductions ----------------------------------------------------------------------

    /// <summary>Sum of all elements (a scalar).</summary>
    public Tensor Sum(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Sum(AllAxes, false, name, file, line);
    /// <summary>Sum over one axis.</summary>
    public Tensor Sum(int axis, bool keepDims = false, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Sum(new[] { axis }, keepDims, name, file, line);
    /// <summary>Sum over axes.</summary>
    public Tensor Sum(int[] axes, bool keepDims = false, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Unary(new SumOp(Normalize(axes), keepDims), name, file, line);

    /// <summary>Mean of all elements (a scalar).</summary>
    public Tensor Mean(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Mean(AllAxes, false, name, file, line);
    /// <summary>Mean over one axis.</summary>
    public Tensor Mean(int axis, bool keepDims = false, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Mean(new[] { axis }, keepDims, name, file, line);
    /// <summary>Mean over axes: the sum divided by the element count (known at run time when the batch is reduced).</summary>
    public Tensor Mean(int[] axes, bool keepDims = false, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Sum(axes, keepDims, null, file, line).Div(Count(axes, file, line), name, file, line);

    /// <summary>Maximum of all elements (a scalar).</summary>
    public Tensor Max(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Max(AllAxes, false, name, file, line);
    /// <summary>Maximum over one axis.</summary>
    public Tensor Max(int axis, bool keepDims = false, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => Max(new[] { axis }, keepDims, name, file, line);
    /// <summary>Maximum over axes.</summary>
    public Tensor Max(int[] axes, bool keepDims = false, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Unary(new MaxOp(Normalize(axes), keepDims), name, file, line);

    /// <summary>The number of elements along <paramref name="axes"/>, as a scalar.</summary>
    public Tensor Count(int[] axes, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Unary(new CountOp(Normalize(axes)), null, file, line);

    /// <summary>Sums a broadcast result back to <paramref name="target"/> (the adjoint of broadcasting).</summary>
    public Tensor SumToShape(Shape target)
    {
        if (Shape.Equals(target)) return this;
        var axes = Broadcasting.ReducedAxes(target, Shape);
        var summed = axes.Length == 0 ? this : Sum(axes, keepDims: true);
        return summed.Shape.Equals(target) ? summed : summed.Reshape(target.Dims);
    }

    /// <summary>Broadcasts to <paramref name="shape"/>.</summary>
    public Tensor BroadcastTo(Shape shape, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Shape.Equals(shape) ? this : Unary(new BroadcastToOp(shape), null, file, line);

    private int[] AllAxes => Enumerable.Range(0, Shape.Rank).ToArray();

    private int[] Normalize(int[] axes)
    {
        var normalized = axes.Select(a => Ir.Shape.NormalizeAxis(a, Shape.Rank)).Distinct().OrderBy(a => a).ToArray();
        return normalized;
    }

    // ----- shape manipulation --------------------------------------------------------------

    /// <summary>Reshapes; use <see cref="Ir.Shape.Batch"/> (−1) for the batch dimension.</summary>
    public Tensor Reshape(int[] shape, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Shape.Equals(new Shape(shape)) ? this : Unary(new ReshapeOp(new Shape(shape)), name, file, line);

    /// <summary>[N, d1, d2, ...] to [N, d1·d2·...].</summary>
    public Tensor Flatten(string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (Shape.Rank < 1 || Shape[0] != Ir.Shape.Batch)
            throw new ShapeException($"flatten expects a batch-first tensor [N, ...], got {Shape}", "flatten", Type.ToString(), Builder.Location(file, line));
        return Reshape(new[] { Ir.Shape.Batch, (int)Shape.ConstantSize }, name, file, line);
    }

    /// <summary>Permutes axes; with no arguments on a matrix, swaps its two axes.</summary>
    public Tensor Transpose(int[]? permutation = null, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Unary(new TransposeOp(permutation ?? Enumerable.Range(0, Shape.Rank).Reverse().ToArray()), name, file, line);

    /// <summary>Indices [start, start+length) of <paramref name="axis"/>.</summary>
    public Tensor Slice(int axis, int start, int length, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Unary(new SliceOp(Ir.Shape.NormalizeAxis(axis, Shape.Rank), start, length), name, file, line);

    /// <summary>Joins tensors along <paramref name="axis"/>.</summary>
    public static Tensor Concat(int axis, params Tensor[] parts)
    {
        if (parts.Length == 0) throw new ArgumentException("Concat needs at least one tensor.");
        return parts[0].Builder.Apply(new ConcatOp(Ir.Shape.NormalizeAxis(axis, parts[0].Shape.Rank)), parts, null, "", 0);
    }

    // ----- linear algebra ------------------------------------------------------------------

    /// <summary>Matrix product op(this) · op(other).</summary>
    public Tensor MatMul(Tensor other, bool transposeA = false, bool transposeB = false, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Binary(new MatMulOp(transposeA, transposeB), other, name, file, line);

    /// <summary>One-hot encoding of integer labels, [N] → [N, classes].</summary>
    public Tensor OneHot(int? classes = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        int count = classes ?? Classes ?? throw new ShapeException("the number of classes is unknown; pass it or declare the labels with Labels(name, classes)", "one_hot", Type.ToString(), Builder.Location(file, line));
        return Unary(new OneHotOp(count), null, file, line);
    }
}
