using System;
using System.Collections.Generic;
using System.Globalization;
using Graph.Interpretation;
using Graph.Ir;

namespace Graph.Ops;

/// <summary>
/// An operation: everything about it in one place: its shape rule, its reference evaluation
/// (double precision, the oracle), and its VJP written with the builder API so that a gradient
/// is itself a graph that can be differentiated again. Ops are immutable values: two ops with
/// the same <see cref="Key"/> compute the same function (common-subexpression elimination relies on it).
/// </summary>
public abstract class Op : IEquatable<Op>
{
    /// <summary>Lower-case name used by the printer and in messages ("matmul").</summary>
    public abstract string Name { get; }

    /// <summary>Attributes as stable invariant text ("transB", "alpha=0.01"); empty when none.</summary>
    public virtual string Attributes => "";

    /// <summary>Name and attributes: the op's identity.</summary>
    public string Key => Attributes.Length == 0 ? Name : Name + "[" + Attributes + "]";

    /// <summary>Result type from operand types; throws <see cref="ShapeException"/> with the reason.</summary>
    public abstract TensorType InferType(IReadOnlyList<TensorType> inputs);

    /// <summary>Reference evaluation in double precision.</summary>
    public abstract TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context);

    /// <summary>
    /// Vector-Jacobian product: the gradient with respect to each input, given the gradient of
    /// the output (null where an input gets none: labels, integer inputs, zero-gradient ops).
    /// </summary>
    public abstract Builder.Tensor?[] Vjp(VjpContext context);

    /// <summary>True when the result depends on run-time state other than inputs (random masks): never folded or merged.</summary>
    public virtual bool IsStateful => false;

    /// <inheritdoc />
    public bool Equals(Op? other) => other is not null && other.GetType() == GetType() && other.Key == Key;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Op);

    /// <inheritdoc />
    public override int GetHashCode() => Key.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => Key;

    /// <summary>Invariant round-trip formatting for attributes.</summary>
    protected static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Invariant formatting of an integer list.</summary>
    protected static string F(IEnumerable<int> values) => string.Join(",", values);

    /// <summary>Checks the operand count.</summary>
    protected void ExpectArity(IReadOnlyList<TensorType> inputs, int count)
    {
        if (inputs.Count != count)
            throw new ShapeException($"expects {count} operand(s), got {inputs.Count}");
    }

    /// <summary>Checks that an operand is floating point.</summary>
    protected static void ExpectFloat(TensorType type, string what)
    {
        if (!type.DType.IsFloat()) throw new ShapeException($"{what} must be floating point, got {type}");
    }
}

/// <summary>What a VJP rule sees: its node's inputs and output as tensors, and the output's gradient.</summary>
public sealed class VjpContext
{
    internal VjpContext(Builder.Tensor[] inputs, Builder.Tensor output, Builder.Tensor gradient)
    {
        Inputs = inputs;
        Output = output;
        Gradient = gradient;
    }

    /// <summary>The node's operands.</summary>
    public Builder.Tensor[] Inputs { get; }

    /// <summary>The node itself (VJPs may reuse the forward value, as sigmoid's y(1-y)).</summary>
    public Builder.Tensor Output { get; }

    /// <summary>Gradient of the loss with respect to the output.</summary>
    public Builder.Tensor Gradient { get; }

    /// <summary>Operand <paramref name="i"/>.</summary>
    public Builder.Tensor this[int i] => Inputs[i];
}
