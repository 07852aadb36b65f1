using System;
using System.Collections.Generic;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;

namespace Graph.Ops;

/// <summary>
/// An elementwise function of one operand. Each subclass gives the function (the oracle) and its
/// VJP in terms of other ops, so gradients of gradients work as long as those ops are differentiable.
/// </summary>
public abstract class UnaryPointwiseOp : Op
{
    /// <summary>f(x) in double precision.</summary>
    public abstract double Apply(double x);

    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 1);
        ExpectFloat(inputs[0], "operand");
        return inputs[0];
    }

    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var x = inputs[0];
        var result = new double[x.Length];
        for (int i = 0; i < result.Length; i++) result[i] = Apply(x.Data[i]);
        return new TensorValue(x.Dims, result);
    }

    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c) => new[] { Derivative(c.Inputs[0], c.Output, c.Gradient) };

    /// <summary>dL/dx given x, y = f(x) and dL/dy; null when the derivative is zero everywhere.</summary>
    protected abstract Tensor? Derivative(Tensor x, Tensor y, Tensor dy);
}

/// <summary>-x.</summary>
public sealed class NegOp : UnaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "neg";
    /// <inheritdoc />
    public override double Apply(double x) => -x;
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) => -dy;
}

/// <summary>eˣ.</summary>
public sealed class ExpOp : UnaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "exp";
    /// <inheritdoc />
    public override double Apply(double x) => Math.Exp(x);
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) => dy * y;
}

/// <summary>Natural logarithm.</summary>
public sealed class LogOp : UnaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "log";
    /// <inheritdoc />
    public override double Apply(double x) => Math.Log(x);
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) => dy / x;
}

/// <summary>Square root.</summary>
public sealed class SqrtOp : UnaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "sqrt";
    /// <inheritdoc />
    public override double Apply(double x) => Math.Sqrt(x);
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) => dy * 0.5 / y;
}

/// <summary>|x| (derivative sign(x); 0 at 0 as in PyTorch).</summary>
public sealed class AbsOp : UnaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "abs";
    /// <inheritdoc />
    public override double Apply(double x) => Math.Abs(x);
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) => dy * x.Sign();
}

/// <summary>sign(x) ∈ {-1, 0, 1}; zero derivative.</summary>
public sealed class SignOp : UnaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "sign";
    /// <inheritdoc />
    public override double Apply(double x) => x > 0 ? 1 : x < 0 ? -1 : 0;
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) => null;
}

/// <summary>Heaviside step: 1 where x &gt; 0, else 0; zero derivative. Masks of ReLU-like gradients.</summary>
public sealed class StepOp : UnaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "step";
    /// <inheritdoc />
    public override double Apply(double x) => x > 0 ? 1 : 0;
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) => null;
}

/// <summary>max(x, 0).</summary>
public sealed class ReluOp : UnaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "relu";
    /// <inheritdoc />
    public override double Apply(double x) => x > 0 ? x : 0;
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) => dy * x.Step();
}

/// <summary>x if x &gt; 0 else αx (PyTorch default α = 0.01).</summary>
public sealed class LeakyReluOp : UnaryPointwiseOp
{
    /// <summary>Creates the op.</summary>
    public LeakyReluOp(double alpha) => Alpha = alpha;
    /// <summary>Slope for negative inputs.</summary>
    public double Alpha { get; }
    /// <inheritdoc />
    public override string Name => "leaky_relu";
    /// <inheritdoc />
    public override string Attributes => "alpha=" + F(Alpha);
    /// <inheritdoc />
    public override double Apply(double x) => x > 0 ? x : Alpha * x;
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) => dy * (x.Step() * (1 - Alpha) + Alpha);
}

/// <summary>x if x &gt; 0 else α(eˣ − 1) (PyTorch default α = 1).</summary>
public sealed class EluOp : UnaryPointwiseOp
{
    /// <summary>Creates the op.</summary>
    public EluOp(double alpha) => Alpha = alpha;
    /// <summary>Saturation value for negative inputs is −α.</summary>
    public double Alpha { get; }
    /// <inheritdoc />
    public override string Name => "elu";
    /// <inheritdoc />
    public override string Attributes => "alpha=" + F(Alpha);
    /// <inheritdoc />
    public override double Apply(double x) => x > 0 ? x : Alpha * (Math.Exp(x) - 1);
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy)
    {
        // For x > 0 the slope is 1, otherwise αeˣ = y + α: reuse the forward value.
        var positive = x.Step();
        return dy * (positive + (1 - positive) * (y + Alpha));
    }
}

/// <summary>1 / (1 + e⁻ˣ).</summary>
public sealed class SigmoidOp : UnaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "sigmoid";
    /// <inheritdoc />
    public override double Apply(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) => dy * y * (1 - y);
}

/// <summary>Hyperbolic tangent.</summary>
public sealed class TanhOp : UnaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "tanh";
    /// <inheritdoc />
    public override double Apply(double x) => Math.Tanh(x);
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) => dy * (1 - y * y);
}

/// <summary>xᵖ for a constant exponent p.</summary>
public sealed class PowScalarOp : UnaryPointwiseOp
{
    /// <summary>Creates the op.</summary>
    public PowScalarOp(double exponent) => Exponent = exponent;
    /// <summary>The constant exponent.</summary>
    public double Exponent { get; }
    /// <inheritdoc />
    public override string Name => "pow";
    /// <inheritdoc />
    public override string Attributes => "p=" + F(Exponent);
    /// <inheritdoc />
    public override double Apply(double x) => Exponent == 2 ? x * x : Math.Pow(x, Exponent);
    /// <inheritdoc />
    protected override Tensor? Derivative(Tensor x, Tensor y, Tensor dy) =>
        Exponent == 0 ? null
        : Exponent == 1 ? dy
        : Exponent == 2 ? dy * x * 2
        : dy * x.Pow(Exponent - 1) * Exponent;
}

/// <summary>
/// An elementwise function of two operands with NumPy broadcasting. The VJP of each operand
/// is summed back over the axes it was broadcast along.
/// </summary>
public abstract class BinaryPointwiseOp : Op
{
    /// <summary>f(a, b) in double precision.</summary>
    public abstract double Apply(double a, double b);

    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 2);
        ExpectFloat(inputs[0], "left operand");
        ExpectFloat(inputs[1], "right operand");
        if (inputs[0].DType != inputs[1].DType)
            throw new ShapeException($"operands have different element types {inputs[0].DType.Short()} and {inputs[1].DType.Short()}");
        return new TensorType(inputs[0].DType, Broadcasting.Result(inputs[0].Shape, inputs[1].Shape));
    }

    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var a = inputs[0];
        var b = inputs[1];
        int[] dims = BroadcastDims(a.Dims, b.Dims);
        var ia = Broadcasting.SourceIndices(a.Dims, dims);
        var ib = Broadcasting.SourceIndices(b.Dims, dims);
        var result = new double[ia.Length];
        for (int i = 0; i < result.Length; i++) result[i] = Apply(a.Data[ia[i]], b.Data[ib[i]]);
        return new TensorValue(dims, result);
    }

    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        var (da, db) = Partials(c.Inputs[0], c.Inputs[1], c.Output, c.Gradient);
        return new[]
        {
            da is null ? null : da.SumToShape(c.Inputs[0].Shape),
            db is null ? null : db.SumToShape(c.Inputs[1].Shape),
        };
    }

    /// <summary>dL/da and dL/db at the broadcast shape (the base class sums them back).</summary>
    protected abstract (Tensor? da, Tensor? db) Partials(Tensor a, Tensor b, Tensor y, Tensor dy);

    private static int[] BroadcastDims(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"Values of shapes {Shape.Format(a)} and {Shape.Format(b)} do not broadcast.");
            dims[i] = da == 1 ? db : da;
        }
        return dims;
    }
}

/// <summary>a + b.</summary>
public sealed class AddOp : BinaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "add";
    /// <inheritdoc />
    public override double Apply(double a, double b) => a + b;
    /// <inheritdoc />
    protected override (Tensor?, Tensor?) Partials(Tensor a, Tensor b, Tensor y, Tensor dy) => (dy, dy);
}

/// <summary>a − b.</summary>
public sealed class SubOp : BinaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "sub";
    /// <inheritdoc />
    public override double Apply(double a, double b) => a - b;
    /// <inheritdoc />
    protected override (Tensor?, Tensor?) Partials(Tensor a, Tensor b, Tensor y, Tensor dy) => (dy, -dy);
}

/// <summary>a · b.</summary>
public sealed class MulOp : BinaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "mul";
    /// <inheritdoc />
    public override double Apply(double a, double b) => a * b;
    /// <inheritdoc />
    protected override (Tensor?, Tensor?) Partials(Tensor a, Tensor b, Tensor y, Tensor dy) => (dy * b, dy * a);
}

/// <summary>a / b.</summary>
public sealed class DivOp : BinaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "div";
    /// <inheritdoc />
    public override double Apply(double a, double b) => a / b;
    /// <inheritdoc />
    protected override (Tensor?, Tensor?) Partials(Tensor a, Tensor b, Tensor y, Tensor dy) => (dy / b, -(dy * a) / (b * b));
}

/// <summary>aᵇ elementwise (a &gt; 0 where b is not an integer).</summary>
public sealed class PowOp : BinaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "powt";
    /// <inheritdoc />
    public override double Apply(double a, double b) => Math.Pow(a, b);
    /// <inheritdoc />
    protected override (Tensor?, Tensor?) Partials(Tensor a, Tensor b, Tensor y, Tensor dy) =>
        (dy * b * a.Pow(b - 1), dy * y * a.Log());
}

/// <summary>Elementwise maximum; the gradient goes to the larger operand (ties are kinks).</summary>
public sealed class MaximumOp : BinaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "maximum";
    /// <inheritdoc />
    public override double Apply(double a, double b) => Math.Max(a, b);
    /// <inheritdoc />
    protected override (Tensor?, Tensor?) Partials(Tensor a, Tensor b, Tensor y, Tensor dy)
    {
        var aWins = (a - b).Step();
        return (dy * aWins, dy * (1 - aWins));
    }
}

/// <summary>Elementwise minimum; the gradient goes to the smaller operand (ties are kinks).</summary>
public sealed class MinimumOp : BinaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "minimum";
    /// <inheritdoc />
    public override double Apply(double a, double b) => Math.Min(a, b);
    /// <inheritdoc />
    protected override (Tensor?, Tensor?) Partials(Tensor a, Tensor b, Tensor y, Tensor dy)
    {
        var bWins = (a - b).Step();
        return (dy * (1 - bWins), dy * bWins);
    }
}

/// <summary>1 where a == b else 0; zero derivative. Routes max-reduction gradients.</summary>
public sealed class EqualOp : BinaryPointwiseOp
{
    /// <inheritdoc />
    public override string Name => "equal";
    /// <inheritdoc />
    public override double Apply(double a, double b) => a == b ? 1 : 0;
    /// <inheritdoc />
    protected override (Tensor?, Tensor?) Partials(Tensor a, Tensor b, Tensor y, Tensor dy) => (null, null);
}
