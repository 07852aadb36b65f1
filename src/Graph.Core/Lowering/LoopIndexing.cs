using System.Collections.Generic;
using Graph.Ir;

namespace Graph.Lowering;

/// <summary>
/// One run of adjacent domain axes that an operand reads contiguously: its element index at flat domain position f is
/// (f / Inner) % Extent · Stride (the modulo is dropped for a leading run, the division when Inner is 1).
/// </summary>
public readonly struct IndexRun
{
    internal IndexRun(SymSize inner, SymSize extent, SymSize stride, bool leading)
    {
        Inner = inner;
        Extent = extent;
        Stride = stride;
        Leading = leading;
    }

    /// <summary>Elements of the domain after the run's last axis.</summary>
    public SymSize Inner { get; }

    /// <summary>Elements of the run's axes.</summary>
    public SymSize Extent { get; }

    /// <summary>Stride of the run's last axis in the operand.</summary>
    public SymSize Stride { get; }

    /// <summary>True when only size-1 axes precede the run, so no modulo is needed.</summary>
    public bool Leading { get; }
}

/// <summary>How a loop kernel maps a flat domain position to an operand's element index; both emitters use it.</summary>
public static class LoopIndexing
{
    /// <summary>
    /// The runs of <paramref name="strides"/> over <paramref name="domain"/>: size-1 and broadcast (stride 0) axes drop out,
    /// and adjacent axes whose strides nest (stride[a−1] = stride[a]·dim[a]) merge into one run.
    /// </summary>
    public static List<IndexRun> Runs(SymSize[] strides, Shape domain)
    {
        int rank = domain.Rank;
        var groups = new List<(int First, int Last)>();
        int prev = -1;
        for (int a = 0; a < rank; a++)
        {
            if (domain[a] == 1) continue;
            if (strides[a].Coef == 0) { prev = -1; continue; }
            if (prev >= 0 && strides[prev].Equals(strides[a] * SymSize.Dim(domain[a])))
                groups[groups.Count - 1] = (groups[groups.Count - 1].First, a);
            else groups.Add((a, a));
            prev = a;
        }
        var runs = new List<IndexRun>(groups.Count);
        foreach (var (first, last) in groups)
        {
            bool leading = true;
            for (int q = 0; q < first; q++) if (domain[q] != 1) leading = false;
            runs.Add(new IndexRun(SymSize.Product(domain, last + 1, rank), SymSize.Product(domain, first, last + 1), strides[last], leading));
        }
        return runs;
    }
}
