using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;

namespace Graph.Ops;

/// <summary>Same elements, new shape (row-major order is kept). The batch dimension must survive as a whole.</summary>
public sealed class ReshapeOp : Op
{
    /// <summary>Creates the op.</summary>
    public ReshapeOp(Shape target) => Target = target;
    /// <summary>The new shape.</summary>
    public Shape Target { get; }
    /// <inheritdoc />
    public override string Name => "reshape";
    /// <inheritdoc />
    public override string Attributes => "shape=" + Target;
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 1);
        var from = inputs[0].Shape;
        if (from.HasBatch != Target.HasBatch)
            throw new ShapeException($"cannot reshape {from} to {Target}: the batch dimension N must appear in both or neither");
        if (from.ConstantSize != Target.ConstantSize)
            throw new ShapeException($"cannot reshape {from} ({from.ConstantSize} elements{(from.HasBatch ? " per batch item" : "")}) to {Target} ({Target.ConstantSize})");
        return new TensorType(inputs[0].DType, Target);
    }
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context) =>
        new(Target.Concrete(context.Batch), inputs[0].Data);
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c) => new[] { c.Gradient.Reshape(c.Inputs[0].Shape.Dims) };
}

/// <summary>Permutes axes: result axis i is input axis perm[i].</summary>
public sealed class TransposeOp : Op
{
    /// <summary>Creates the op.</summary>
    public TransposeOp(int[] permutation) => Permutation = permutation;
    /// <summary>The permutation.</summary>
    public int[] Permutation { get; }
    /// <inheritdoc />
    public override string Name => "transpose";
    /// <inheritdoc />
    public override string Attributes => "perm=" + F(Permutation);
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 1);
        var shape = inputs[0].Shape;
        if (Permutation.Length != shape.Rank || Permutation.OrderBy(p => p).Where((p, i) => p != i).Any())
            throw new ShapeException($"[{F(Permutation)}] is not a permutation of the {shape.Rank} axes of {shape}");
        return new TensorType(inputs[0].DType, new Shape(Permutation.Select(p => shape[p]).ToArray()));
    }
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var x = inputs[0];
        var outDims = Permutation.Select(p => x.Dims[p]).ToArray();
        var inStrides = TensorValue.Strides(x.Dims);
        var result = new double[x.Length];
        var index = new int[outDims.Length];
        for (int flat = 0; flat < result.Length; flat++)
        {
            int src = 0;
            for (int d = 0; d < outDims.Length; d++) src += index[d] * inStrides[Permutation[d]];
            result[flat] = x.Data[src];
            for (int d = outDims.Length - 1; d >= 0; d--)
            {
                if (++index[d] < outDims[d]) break;
                index[d] = 0;
            }
        }
        return new TensorValue(outDims, result);
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        var inverse = new int[Permutation.Length];
        for (int i = 0; i < inverse.Length; i++) inverse[Permutation[i]] = i;
        return new[] { c.Gradient.Transpose(inverse) };
    }
}

/// <summary>Joins operands along an axis; all other dimensions must agree.</summary>
public sealed class ConcatOp : Op
{
    /// <summary>Creates the op.</summary>
    public ConcatOp(int axis) => Axis = axis;
    /// <summary>The joined axis (normalized).</summary>
    public int Axis { get; }
    /// <inheritdoc />
    public override string Name => "concat";
    /// <inheritdoc />
    public override string Attributes => "axis=" + Axis;
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        if (inputs.Count == 0) throw new ShapeException("needs at least one operand");
        var first = inputs[0].Shape;
        if (Axis < 0 || Axis >= first.Rank) throw new ShapeException($"axis {Axis} is out of range for rank {first.Rank}");
        int total = 0;
        foreach (var t in inputs)
        {
            if (t.DType != inputs[0].DType) throw new ShapeException("operands have different element types");
            if (t.Shape.Rank != first.Rank) throw new ShapeException($"operands have different ranks");
            for (int d = 0; d < first.Rank; d++)
                if (d != Axis && t.Shape[d] != first[d]) throw new ShapeException($"dimension {d} differs ({first} vs {t.Shape})");
            if (t.Shape[Axis] == Shape.Batch) throw new ShapeException("cannot concatenate along the batch dimension");
            total += t.Shape[Axis];
        }
        return new TensorType(inputs[0].DType, first.With(Axis, total));
    }
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var dims = (int[])inputs[0].Dims.Clone();
        dims[Axis] = inputs.Sum(t => t.Dims[Axis]);
        int outer = dims.Take(Axis).Aggregate(1, (a, b) => a * b);
        int inner = dims.Skip(Axis + 1).Aggregate(1, (a, b) => a * b);
        var result = new List<double>(TensorValue.Product(dims));
        for (int o = 0; o < outer; o++)
            foreach (var t in inputs)
            {
                int block = t.Dims[Axis] * inner;
                for (int i = 0; i < block; i++) result.Add(t.Data[o * block + i]);
            }
        return new TensorValue(dims, result.ToArray());
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        var grads = new Tensor?[c.Inputs.Length];
        int start = 0;
        for (int i = 0; i < grads.Length; i++)
        {
            int length = c.Inputs[i].Shape[Axis];
            grads[i] = c.Gradient.Slice(Axis, start, length);
            start += length;
        }
        return grads;
    }
}

/// <summary>A contiguous range [start, start+length) of one axis.</summary>
public sealed class SliceOp : Op
{
    /// <summary>Creates the op.</summary>
    public SliceOp(int axis, int start, int length)
    {
        Axis = axis;
        Start = start;
        Length = length;
    }
    /// <summary>The sliced axis.</summary>
    public int Axis { get; }
    /// <summary>First index kept.</summary>
    public int Start { get; }
    /// <summary>Number of indices kept.</summary>
    public int Length { get; }
    /// <inheritdoc />
    public override string Name => "slice";
    /// <inheritdoc />
    public override string Attributes => $"axis={Axis},start={Start},length={Length}";
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 1);
        var shape = inputs[0].Shape;
        if (Axis < 0 || Axis >= shape.Rank) throw new ShapeException($"axis {Axis} is out of range for rank {shape.Rank}");
        if (shape[Axis] == Shape.Batch) throw new ShapeException("cannot slice the batch dimension");
        if (Start < 0 || Length < 1 || Start + Length > shape[Axis])
            throw new ShapeException($"range [{Start}, {Start + Length}) is outside dimension {Axis} of size {shape[Axis]}");
        return new TensorType(inputs[0].DType, shape.With(Axis, Length));
    }
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var x = inputs[0];
        var dims = (int[])x.Dims.Clone();
        dims[Axis] = Length;
        int outer = dims.Take(Axis).Aggregate(1, (a, b) => a * b);
        int inner = dims.Skip(Axis + 1).Aggregate(1, (a, b) => a * b);
        var result = new double[TensorValue.Product(dims)];
        for (int o = 0; o < outer; o++)
            Array.Copy(x.Data, (o * x.Dims[Axis] + Start) * inner, result, o * Length * inner, Length * inner);
        return new TensorValue(dims, result);
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        // Pad the gradient with zeros back to the input's extent.
        var x = c.Inputs[0];
        var parts = new List<Tensor>();
        if (Start > 0) parts.Add(c.Gradient.Builder.Zeros(x.Shape.With(Axis, Start)));
        parts.Add(c.Gradient);
        int after = x.Shape[Axis] - Start - Length;
        if (after > 0) parts.Add(c.Gradient.Builder.Zeros(x.Shape.With(Axis, after)));
        return new[] { parts.Count == 1 ? c.Gradient : Tensor.Concat(Axis, parts.ToArray()) };
    }
}
