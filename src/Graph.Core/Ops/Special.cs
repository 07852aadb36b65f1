using System;
using System.Collections.Generic;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;

namespace Graph.Ops;

/// <summary>Integer labels [N] to a one-hot float matrix [N, classes]. A label out of range is an error at run time.</summary>
public sealed class OneHotOp : Op
{
    /// <summary>Creates the op.</summary>
    public OneHotOp(int classes) => Classes = classes;
    /// <summary>Number of classes.</summary>
    public int Classes { get; }
    /// <inheritdoc />
    public override string Name => "one_hot";
    /// <inheritdoc />
    public override string Attributes => "classes=" + Classes;
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 1);
        if (inputs[0].DType != DType.Int32 || inputs[0].Shape.Rank != 1)
            throw new ShapeException($"labels must be i32[N], got {inputs[0]}");
        if (Classes < 1) throw new ShapeException($"needs at least one class, got {Classes}");
        return new TensorType(DType.Float32, new Shape(inputs[0].Shape[0], Classes));
    }
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var labels = inputs[0];
        var result = new double[labels.Length * Classes];
        for (int i = 0; i < labels.Length; i++)
        {
            int label = (int)labels.Data[i];
            if (label < 0 || label >= Classes || label != labels.Data[i])
                throw new ArgumentException($"Label {labels.Data[i]} at index {i} is outside [0, {Classes}).");
            result[i * Classes + label] = 1;
        }
        return new TensorValue(new[] { labels.Length, Classes }, result);
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c) => new Tensor?[] { null };
}

/// <summary>
/// Inverted-dropout mask shaped like its operand: 0 with probability p, else 1/(1−p), drawn from the
/// counter-based generator keyed by (model seed, this op's stream, training step, element index), so
/// every engine draws the same mask. Multiply by it in training; evaluation never evaluates it.
/// </summary>
public sealed class DropoutMaskOp : Op
{
    /// <summary>Creates the op.</summary>
    public DropoutMaskOp(double probability, int stream)
    {
        Probability = probability;
        Stream = stream;
    }
    /// <summary>Probability of dropping an element.</summary>
    public double Probability { get; }
    /// <summary>Which random stream (one per dropout layer).</summary>
    public int Stream { get; }
    /// <inheritdoc />
    public override string Name => "dropout_mask";
    /// <inheritdoc />
    public override string Attributes => $"p={F(Probability)},stream={Stream}";
    /// <inheritdoc />
    public override bool IsStateful => true;
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 1);
        if (Probability < 0 || Probability >= 1) throw new ShapeException($"dropout probability must be in [0, 1), got {F(Probability)}");
        return new TensorType(DType.Float32, inputs[0].Shape);
    }
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        ulong key = CounterRandom.StreamKey(context.Seed, (ulong)Stream, context.Step);
        double scale = 1 / (1 - Probability);
        var result = new double[inputs[0].Length];
        for (int i = 0; i < result.Length; i++)
            result[i] = CounterRandom.Uniform(key, i) < (float)Probability ? 0 : scale;
        return new TensorValue(inputs[0].Dims, result);
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c) => new Tensor?[] { null };
}

/// <summary>
/// Chooses its first operand in training mode and its second in evaluation mode. Lets one graph
/// describe both modes (dropout, batch norm); the specialization pass resolves it per mode.
/// </summary>
public sealed class ModeSelectOp : Op
{
    /// <inheritdoc />
    public override string Name => "mode_select";
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 2);
        if (!inputs[0].Equals(inputs[1])) throw new ShapeException($"training and evaluation values differ in type: {inputs[0]} vs {inputs[1]}");
        return inputs[0];
    }
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context) =>
        context.Mode == Mode.Train ? inputs[0] : inputs[1];
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        // Each branch gets the gradient only in its own mode, so specialization keeps gradients exact.
        var zeros = c.Gradient.Builder.Zeros(c.Gradient.Shape);
        return new[] { c.Gradient.Builder.ModeSelect(c.Gradient, zeros), c.Gradient.Builder.ModeSelect(zeros, c.Gradient) };
    }
}
