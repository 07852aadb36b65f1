using System;
using System.Collections.Generic;
using Graph.Interpretation;
using Graph.Ir;

namespace Graph.Ops;

/// <summary>A named leaf: its value comes from outside the graph (feeds, parameters, state).</summary>
public abstract class LeafOp : Op
{
    /// <summary>Creates a leaf.</summary>
    protected LeafOp(string leafName, TensorType type)
    {
        LeafName = leafName;
        Type = type;
    }

    /// <summary>The unique name the leaf is fed or stored by.</summary>
    public string LeafName { get; }

    /// <summary>The leaf's type.</summary>
    public TensorType Type { get; }

    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 0);
        return Type;
    }

    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context) =>
        throw new InvalidOperationException($"{Name} '{LeafName}' is fed by the interpreter, not evaluated.");

    /// <inheritdoc />
    public override Builder.Tensor?[] Vjp(VjpContext context) => Array.Empty<Builder.Tensor?>();
}

/// <summary>What an input feeds.</summary>
public enum InputRole
{
    /// <summary>Features the model sees at inference.</summary>
    Feature,
    /// <summary>Targets or labels, needed only by the loss.</summary>
    Label,
}

/// <summary>A value fed on every call (features or labels).</summary>
public sealed class InputOp : LeafOp
{
    /// <summary>Creates an input.</summary>
    public InputOp(string name, TensorType type, InputRole role) : base(name, type) => Role = role;

    /// <summary>Features or labels.</summary>
    public InputRole Role { get; }

    /// <inheritdoc />
    public override string Name => Role == InputRole.Label ? "label" : "input";

    /// <inheritdoc />
    public override string Attributes => LeafName;
}

/// <summary>A trainable parameter with its initializer.</summary>
public sealed class ParameterOp : LeafOp
{
    /// <summary>Creates a parameter.</summary>
    public ParameterOp(string name, TensorType type, Initializer init) : base(name, type) => Init = init;

    /// <summary>How the parameter starts.</summary>
    public Initializer Init { get; }

    /// <inheritdoc />
    public override string Name => "param";

    /// <inheritdoc />
    public override string Attributes => LeafName;
}

/// <summary>Non-trainable state the training step updates (batch norm's running statistics).</summary>
public sealed class StateOp : LeafOp
{
    /// <summary>Creates a state tensor.</summary>
    public StateOp(string name, TensorType type, Initializer init) : base(name, type) => Init = init;

    /// <summary>How the state starts.</summary>
    public Initializer Init { get; }

    /// <inheritdoc />
    public override string Name => "state";

    /// <inheritdoc />
    public override string Attributes => LeafName;
}

/// <summary>A constant tensor (usually a scalar), without a batch dimension.</summary>
public sealed class ConstantOp : Op
{
    /// <summary>Creates a constant; <paramref name="value"/> is not copied and must not be changed.</summary>
    public ConstantOp(TensorValue value, DType dtype = DType.Float32)
    {
        Value = value;
        DType = dtype;
    }

    /// <summary>The value.</summary>
    public TensorValue Value { get; }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>True for a single element.</summary>
    public bool IsScalar => Value.Length == 1;

    /// <summary>The value when <see cref="IsScalar"/>.</summary>
    public double ScalarValue => Value.Data[0];

    /// <inheritdoc />
    public override string Name => "const";

    /// <inheritdoc />
    public override string Attributes => Value.Rank == 0
        ? F(Value.Data[0])
        : Value.Length <= 4 ? Shape.Format(Value.Dims) + ":" + string.Join(",", Array.ConvertAll(Value.Data, F)) : Hash();

    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 0);
        return new TensorType(DType, new Shape(Value.Dims));
    }

    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context) => Value;

    /// <inheritdoc />
    public override Builder.Tensor?[] Vjp(VjpContext context) => Array.Empty<Builder.Tensor?>();

    private string Hash()
    {
        // Large constants are identified by content so CSE can merge equal ones; FNV-1a over the bytes of the bits.
        // (Whole 64-bit words were xored in before: a sign flip only touches bit 63, so negating an even number
        // of elements kept the hash, and CSE merged a constant with its negation.)
        ulong h = 14695981039346656037UL;
        foreach (double v in Value.Data)
        {
            ulong bits = (ulong)BitConverter.DoubleToInt64Bits(v);
            for (int b = 0; b < 8; b++)
            {
                h ^= (bits >> (8 * b)) & 0xFF;
                h *= 1099511628211UL;
            }
        }
        return Shape.Format(Value.Dims) + ":#" + h.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }
}
