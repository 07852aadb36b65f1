using System;
using System.Linq;
using Graph.Ir;

namespace Graph.Interpretation;

/// <summary>A concrete tensor for the reference interpreter: row-major doubles and a concrete shape.</summary>
public sealed class TensorValue
{
    /// <summary>Wraps <paramref name="data"/> (not copied) with shape <paramref name="shape"/>.</summary>
    public TensorValue(int[] shape, double[] data)
    {
        long size = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"A concrete tensor cannot have dimension {d} in {Shape.Format(shape)}; constants have no batch dimension.");
            size *= d;
        }
        if (size != data.Length)
            throw new ArgumentException($"Shape {Shape.Format(shape)} needs {size} values, got {data.Length}.");
        Dims = shape;
        Data = data;
    }

    /// <summary>A zero-filled tensor.</summary>
    public static TensorValue Zeros(int[] shape) => new(shape, new double[Product(shape)]);

    /// <summary>A scalar.</summary>
    public static TensorValue Scalar(double value) => new(Array.Empty<int>(), new[] { value });

    /// <summary>Concrete dimensions.</summary>
    public int[] Dims { get; }

    /// <summary>Row-major values.</summary>
    public double[] Data { get; }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Dims.Length;

    /// <summary>Number of elements.</summary>
    public int Length => Data.Length;

    /// <summary>A deep copy.</summary>
    public TensorValue Clone() => new((int[])Dims.Clone(), (double[])Data.Clone());

    /// <summary>Product of dimensions.</summary>
    public static int Product(int[] dims)
    {
        int p = 1;
        foreach (int d in dims) p *= d;
        return p;
    }

    /// <summary>Row-major strides of <paramref name="dims"/>.</summary>
    public static int[] Strides(int[] dims)
    {
        var strides = new int[dims.Length];
        int s = 1;
        for (int i = dims.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= dims[i];
        }
        return strides;
    }

    /// <inheritdoc />
    public override string ToString() => Shape.Format(Dims) + " {" + string.Join(", ", Data.Take(8).Select(v => v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture))) + (Length > 8 ? ", ..." : "") + "}";
}
