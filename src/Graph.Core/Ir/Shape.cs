using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Graph.Ir;

/// <summary>
/// A tensor shape whose dimensions are constants except, optionally, the batch dimension,
/// which is symbolic (written <c>N</c>) and bound when the graph runs.
/// </summary>
public sealed class Shape : IEquatable<Shape>
{
    /// <summary>The value that marks the symbolic batch dimension.</summary>
    public const int Batch = -1;

    private readonly int[] _dims;

    /// <summary>Creates a shape; <see cref="Batch"/> may appear at most once.</summary>
    public Shape(params int[] dims)
    {
        _dims = (int[])dims.Clone();
        int batchCount = 0;
        foreach (int d in _dims)
        {
            if (d == Batch) batchCount++;
            else if (d < 0) throw new ArgumentException($"Dimension {d} is negative in shape {Format(_dims)}.");
        }
        if (batchCount > 1) throw new ArgumentException($"Shape {Format(_dims)} has more than one batch dimension.");
    }

    /// <summary>The shape of a scalar.</summary>
    public static Shape Scalar { get; } = new();

    /// <summary>Number of dimensions.</summary>
    public int Rank => _dims.Length;

    /// <summary>Dimension <paramref name="axis"/> (may be <see cref="Batch"/>).</summary>
    public int this[int axis] => _dims[axis];

    /// <summary>A copy of the dimensions.</summary>
    public int[] Dims => (int[])_dims.Clone();

    /// <summary>True when one dimension is the symbolic batch.</summary>
    public bool HasBatch => Array.IndexOf(_dims, Batch) >= 0;

    /// <summary>Axis of the batch dimension, or -1.</summary>
    public int BatchAxis => Array.IndexOf(_dims, Batch);

    /// <summary>Product of the constant dimensions (the batch dimension counts as 1).</summary>
    public long ConstantSize
    {
        get
        {
            long size = 1;
            foreach (int d in _dims) if (d != Batch) size *= d;
            return size;
        }
    }

    /// <summary>Number of elements when the batch dimension is <paramref name="batch"/>.</summary>
    public long Size(int batch) => HasBatch ? ConstantSize * batch : ConstantSize;

    /// <summary>Dimensions with the batch bound to <paramref name="batch"/>.</summary>
    public int[] Concrete(int batch) => _dims.Select(d => d == Batch ? batch : d).ToArray();

    /// <summary>This shape with dimension <paramref name="axis"/> replaced.</summary>
    public Shape With(int axis, int value)
    {
        var dims = Dims;
        dims[axis] = value;
        return new Shape(dims);
    }

    /// <inheritdoc />
    public bool Equals(Shape? other) => other is not null && _dims.SequenceEqual(other._dims);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Shape);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        int hash = 17;
        foreach (int d in _dims) hash = hash * 31 + d;
        return hash;
    }

    /// <summary>"[N,784]" style.</summary>
    public override string ToString() => Format(_dims);

    internal static string Format(IEnumerable<int> dims)
    {
        var sb = new StringBuilder("[");
        bool first = true;
        foreach (int d in dims)
        {
            if (!first) sb.Append(',');
            sb.Append(d == Batch ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture));
            first = false;
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Normalizes a possibly negative axis against <paramref name="rank"/>.</summary>
    public static int NormalizeAxis(int axis, int rank)
    {
        int normalized = axis < 0 ? axis + rank : axis;
        if (normalized < 0 || normalized >= rank)
            throw new ShapeException($"axis {axis} is out of range for rank {rank}");
        return normalized;
    }
}

/// <summary>The static type of a tensor: element type and shape.</summary>
public sealed class TensorType : IEquatable<TensorType>
{
    /// <summary>Creates a tensor type.</summary>
    public TensorType(DType dtype, Shape shape)
    {
        DType = dtype;
        Shape = shape;
    }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Shape.</summary>
    public Shape Shape { get; }

    /// <inheritdoc />
    public bool Equals(TensorType? other) => other is not null && DType == other.DType && Shape.Equals(other.Shape);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as TensorType);

    /// <inheritdoc />
    public override int GetHashCode() => Shape.GetHashCode() * 3 + (int)DType;

    /// <summary>"f32[N,784]" style.</summary>
    public override string ToString() => DType.Short() + Shape;
}

/// <summary>A shape rule was violated. The builder adds the op, operand shapes and source line.</summary>
public sealed class ShapeException : Exception
{
    /// <summary>Creates the exception with the bare reason; the builder adds context.</summary>
    public ShapeException(string message) : base(message) { Reason = message; }

    /// <summary>Creates the exception with its full context.</summary>
    public ShapeException(string reason, string op, string operands, SourceLocation location)
        : base($"{op}({operands}): {reason} (at {location})")
    {
        Reason = reason;
        Op = op;
        Operands = operands;
        Location = location;
    }

    /// <summary>What is wrong, without context.</summary>
    public string Reason { get; }

    /// <summary>The op being built, if known.</summary>
    public string? Op { get; }

    /// <summary>The operands' types, e.g. "f32[N,784], f32[100,10]".</summary>
    public string? Operands { get; }

    /// <summary>The user's source line that built the op.</summary>
    public SourceLocation? Location { get; }
}
