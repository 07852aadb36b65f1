using System;
using System.Collections.Generic;
using Graph.Ir;

namespace Graph.Ops;

/// <summary>NumPy broadcasting over shapes whose batch dimension is symbolic.</summary>
public static class Broadcasting
{
    /// <summary>The broadcast result of two shapes; throws <see cref="ShapeException"/> when incompatible.</summary>
    public static Shape Result(Shape a, Shape b)
    {
        int rank = Math.Max(a.Rank, b.Rank);
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Rank ? 1 : a[i - (rank - a.Rank)];
            int db = i < rank - b.Rank ? 1 : b[i - (rank - b.Rank)];
            if (da == db) dims[i] = da;
            else if (da == 1) dims[i] = db;
            else if (db == 1) dims[i] = da;
            else throw new ShapeException($"shapes {a} and {b} do not broadcast: dimension {i} is {Name(da)} vs {Name(db)}");
        }
        return new Shape(dims);
    }

    /// <summary>True when <paramref name="from"/> broadcasts to exactly <paramref name="to"/>.</summary>
    public static bool CanBroadcastTo(Shape from, Shape to)
    {
        if (from.Rank > to.Rank) return false;
        int offset = to.Rank - from.Rank;
        for (int i = 0; i < from.Rank; i++)
            if (from[i] != 1 && from[i] != to[i + offset]) return false;
        return true;
    }

    /// <summary>
    /// Axes of <paramref name="to"/> that a value of shape <paramref name="from"/> was broadcast along:
    /// the leading extra axes and those where <paramref name="from"/> has 1. Summing a gradient over
    /// them (keeping dims) and reshaping gives the gradient of the smaller operand.
    /// </summary>
    public static int[] ReducedAxes(Shape from, Shape to)
    {
        var axes = new List<int>();
        int offset = to.Rank - from.Rank;
        for (int i = 0; i < to.Rank; i++)
        {
            if (i < offset || (from[i - offset] == 1 && to[i] != 1)) axes.Add(i);
        }
        return axes.ToArray();
    }

    /// <summary>
    /// For each flat index of <paramref name="outDims"/>, the flat index into a tensor of
    /// <paramref name="inDims"/> broadcast to it. The interpreter's obvious, slow way.
    /// </summary>
    public static int[] SourceIndices(int[] inDims, int[] outDims)
    {
        int total = Interpretation.TensorValue.Product(outDims);
        var map = new int[total];
        int offset = outDims.Length - inDims.Length;
        var inStrides = Interpretation.TensorValue.Strides(inDims);
        var index = new int[outDims.Length];
        for (int flat = 0; flat < total; flat++)
        {
            int src = 0;
            for (int d = offset; d < outDims.Length; d++)
                if (inDims[d - offset] != 1) src += index[d] * inStrides[d - offset];
            map[flat] = src;
            for (int d = outDims.Length - 1; d >= 0; d--)
            {
                if (++index[d] < outDims[d]) break;
                index[d] = 0;
            }
        }
        return map;
    }

    private static string Name(int d) => d == Shape.Batch ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
