using System.Collections.Generic;
using System.Linq;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Lowering;

/// <summary>
/// One check of checked mode: after its kernel, the values of <see cref="View"/> must be finite, otherwise
/// <see cref="Node"/> is blamed (its IR text, op name and the user's source line go into the exception).
/// </summary>
/// <param name="View">The written values to check.</param>
/// <param name="Node">The node to blame (see <see cref="CheckedMode.Culprit"/>).</param>
public sealed record FiniteCheckSite(View View, Node Node)
{
    /// <summary>The node as IR text, as the exception reports it ("%12 : f32[N,10] = log(%11)").</summary>
    public string NodeText => GraphPrinter.PrintNode(Node).Trim();

    /// <summary>The node's op name ("log").</summary>
    public string OpName => Node.Op.Name;

    /// <summary>File name of the source line that built the node.</summary>
    public string File => Node.Location.FileName;

    /// <summary>That line (0 when unknown).</summary>
    public int Line => Node.Location.Line;
}

/// <summary>
/// Checked mode's plan, shared by every backend (the C# emitter and the IL JIT): which values each kernel writes
/// and which node is blamed for a NaN or infinity in each.
/// </summary>
public static class CheckedMode
{
    /// <summary>
    /// The checks to run after <paramref name="k"/>, in order: each value it writes (<see cref="WrittenValues"/>) once
    /// per storage range (an epilogue storing in place into the GEMM's output is checked once, as the GEMM's output).
    /// </summary>
    public static IReadOnlyList<FiniteCheckSite> Sites(PlanKernel k)
    {
        var sites = new List<FiniteCheckSite>();
        foreach (var (view, stored) in WrittenValues(k))
        {
            bool seen = false;
            foreach (var site in sites) seen |= SameRange(site.View, view);
            if (!seen) sites.Add(new FiniteCheckSite(view, Culprit(k, stored)));
        }
        return sites;
    }

    /// <summary>
    /// Whether two views cover the same array range: arena buffers by offset, other storage by its name (constants by
    /// index). Field by field rather than a set of tuples, whose framework comparers a cold JIT compile would JIT-compile.
    /// </summary>
    private static bool SameRange(View a, View b)
    {
        PlanBuffer x = a.Buffer, y = b.Buffer;
        if (x.Kind != y.Kind || !a.Size.Equals(b.Size)) return false;
        return x.Kind switch
        {
            StorageKind.Arena => x.OffsetConstant == y.OffsetConstant && x.OffsetPerBatch == y.OffsetPerBatch,
            StorageKind.Constant => x.ConstantIndex == y.ConstantIndex,
            _ => x.Name == y.Name,
        };
    }

    /// <summary>
    /// The node to blame when a fused value is not finite: its operands were checked after their own kernels,
    /// so within the fusion group the first op (in graph order) that can turn finite operands into NaN or
    /// infinity and that the stored value depends on; the stored node itself when there is none.
    /// </summary>
    public static Node Culprit(PlanKernel k, Node stored)
    {
        var inGroup = new HashSet<Node>(k.Nodes);
        var ancestors = new HashSet<Node>();
        var pending = new Stack<Node>();
        pending.Push(stored);
        while (pending.Count > 0)
        {
            var n = pending.Pop();
            if (!ancestors.Add(n)) continue;
            foreach (var input in n.Inputs) if (inGroup.Contains(input)) pending.Push(input);
        }
        foreach (var n in k.Nodes.OrderBy(n => n.Id))
            if (ancestors.Contains(n) && n.Op is LogOp or SqrtOp or DivOp or PowOp or PowScalarOp or ExpOp or LogSumExpOp) return n;
        return stored;
    }

    /// <summary>The float values a kernel writes, each with the node whose value it is.</summary>
    public static IEnumerable<(View View, Node Node)> WrittenValues(PlanKernel k)
    {
        switch (k)
        {
            case LoopKernel loop:
                foreach (var instr in loop.Instructions)
                    if (instr.Store is View store && store.Buffer.Kind != StorageKind.Label) yield return (store, instr.Node);
                foreach (var reducer in loop.Reducers) yield return (reducer.Output, reducer.Node);
                break;
            case GemmKernel gemm:
                yield return (gemm.C, k.Nodes[k.Nodes.Count - 1]);
                if (gemm.Epilogue is not null) foreach (var written in WrittenValues(gemm.Epilogue)) yield return written;
                break;
            case ConvKernel conv:
                yield return (conv.Output, k.Nodes[k.Nodes.Count - 1]);
                if (conv.Epilogue is not null) foreach (var written in WrittenValues(conv.Epilogue)) yield return written;
                break;
            case PoolKernel pool: yield return (pool.Output, k.Nodes[k.Nodes.Count - 1]); break;
            case MoveKernel move: yield return (move.Output, k.Nodes[k.Nodes.Count - 1]); break;
        }
    }
}
