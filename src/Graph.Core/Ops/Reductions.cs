using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;

namespace Graph.Ops;

/// <summary>A reduction over a set of axes, optionally keeping them as size 1.</summary>
public abstract class ReductionOp : Op
{
    /// <summary>Creates the reduction; axes must be normalized and sorted (the builder does it).</summary>
    protected ReductionOp(int[] axes, bool keepDims)
    {
        Axes = axes;
        KeepDims = keepDims;
    }

    /// <summary>Reduced axes, ascending.</summary>
    public int[] Axes { get; }

    /// <summary>Whether reduced axes stay as size 1.</summary>
    public bool KeepDims { get; }

    /// <inheritdoc />
    public override string Attributes => "axes=" + F(Axes) + (KeepDims ? ",keep" : "");

    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 1);
        ExpectFloat(inputs[0], "operand");
        return new TensorType(inputs[0].DType, ReducedShape(inputs[0].Shape, Axes, KeepDims));
    }

    /// <summary>Shape after reducing <paramref name="axes"/>.</summary>
    public static Shape ReducedShape(Shape shape, int[] axes, bool keepDims)
    {
        foreach (int axis in axes)
            if (axis < 0 || axis >= shape.Rank) throw new ShapeException($"axis {axis} is out of range for rank {shape.Rank}");
        var dims = new List<int>();
        for (int i = 0; i < shape.Rank; i++)
        {
            if (Array.IndexOf(axes, i) < 0) dims.Add(shape[i]);
            else if (keepDims) dims.Add(1);
        }
        return new Shape(dims.ToArray());
    }

    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var x = inputs[0];
        var keptDims = x.Dims.Select((d, i) => Array.IndexOf(Axes, i) >= 0 ? 1 : d).ToArray();
        var groups = new List<double>[TensorValue.Product(keptDims)];
        for (int g = 0; g < groups.Length; g++) groups[g] = new List<double>();
        // Each input element goes to the output slot its broadcast maps from.
        var map = Broadcasting.SourceIndices(keptDims, x.Dims);
        for (int i = 0; i < x.Length; i++) groups[map[i]].Add(x.Data[i]);
        var result = groups.Select(Combine).ToArray();
        var outDims = KeepDims ? keptDims : x.Dims.Where((d, i) => Array.IndexOf(Axes, i) < 0).ToArray();
        return new TensorValue(outDims, result);
    }

    /// <summary>The reduction of one group of values.</summary>
    protected abstract double Combine(List<double> values);

    /// <summary>The incoming gradient reshaped to keep-dims form, then broadcast to the input's shape.</summary>
    protected Tensor BroadcastBack(Tensor t, Tensor x)
    {
        var kept = KeepDims ? t : t.Reshape(ReducedShape(x.Shape, Axes, keepDims: true).Dims);
        return kept.BroadcastTo(x.Shape);
    }
}

/// <summary>Sum over axes.</summary>
public sealed class SumOp : ReductionOp
{
    /// <summary>Creates the op.</summary>
    public SumOp(int[] axes, bool keepDims) : base(axes, keepDims) { }
    /// <inheritdoc />
    public override string Name => "sum";
    /// <inheritdoc />
    protected override double Combine(List<double> values)
    {
        double sum = 0;
        foreach (double v in values) sum += v;
        return sum;
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c) => new[] { BroadcastBack(c.Gradient, c.Inputs[0]) };
}

/// <summary>Maximum over axes; the gradient is shared equally among tied maxima (as PyTorch's amax).</summary>
public sealed class MaxOp : ReductionOp
{
    /// <summary>Creates the op.</summary>
    public MaxOp(int[] axes, bool keepDims) : base(axes, keepDims) { }
    /// <inheritdoc />
    public override string Name => "max";
    /// <inheritdoc />
    protected override double Combine(List<double> values) => values.Max();
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        var x = c.Inputs[0];
        var mask = x.EqualTo(BroadcastBack(c.Output, x));
        var ties = mask.Sum(Axes, keepDims: true).BroadcastTo(x.Shape);
        return new[] { BroadcastBack(c.Gradient, x) * mask / ties };
    }
}

/// <summary>log Σ eˣ over axes, computed stably (shifted by the maximum). A primitive because softmax needs it exact.</summary>
public sealed class LogSumExpOp : ReductionOp
{
    /// <summary>Creates the op.</summary>
    public LogSumExpOp(int[] axes, bool keepDims) : base(axes, keepDims) { }
    /// <inheritdoc />
    public override string Name => "logsumexp";
    /// <inheritdoc />
    protected override double Combine(List<double> values)
    {
        double max = values.Max();
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0;
        foreach (double v in values) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        // d/dx log Σ eˣ = softmax(x) = e^(x − y).
        var x = c.Inputs[0];
        return new[] { BroadcastBack(c.Gradient, x) * (x - BroadcastBack(c.Output, x)).Exp() };
    }
}

/// <summary>
/// The number of elements of its operand along some axes, as a scalar: the divisor of a mean,
/// known only at run time when the batch axis is among them. Zero derivative.
/// </summary>
public sealed class CountOp : Op
{
    /// <summary>Creates the op.</summary>
    public CountOp(int[] axes) => Axes = axes;
    /// <summary>Counted axes.</summary>
    public int[] Axes { get; }
    /// <inheritdoc />
    public override string Name => "count";
    /// <inheritdoc />
    public override string Attributes => "axes=" + F(Axes);
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 1);
        foreach (int axis in Axes)
            if (axis < 0 || axis >= inputs[0].Shape.Rank) throw new ShapeException($"axis {axis} is out of range for rank {inputs[0].Shape.Rank}");
        return new TensorType(DType.Float32, Shape.Scalar);
    }
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        double count = 1;
        foreach (int axis in Axes) count *= inputs[0].Dims[axis];
        return TensorValue.Scalar(count);
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c) => new Tensor?[] { null };
}

/// <summary>Broadcasts its operand to a shape (NumPy rules). Its VJP sums back.</summary>
public sealed class BroadcastToOp : Op
{
    /// <summary>Creates the op.</summary>
    public BroadcastToOp(Shape shape) => Target = shape;
    /// <summary>The result shape.</summary>
    public Shape Target { get; }
    /// <inheritdoc />
    public override string Name => "broadcast";
    /// <inheritdoc />
    public override string Attributes => "shape=" + Target;
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 1);
        if (!Broadcasting.CanBroadcastTo(inputs[0].Shape, Target))
            throw new ShapeException($"cannot broadcast {inputs[0].Shape} to {Target}");
        return new TensorType(inputs[0].DType, Target);
    }
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var x = inputs[0];
        var dims = Target.Concrete(context.Batch);
        var map = Broadcasting.SourceIndices(x.Dims, dims);
        return new TensorValue(dims, map.Select(i => x.Data[i]).ToArray());
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c) => new[] { c.Gradient.SumToShape(c.Inputs[0].Shape) };
}
