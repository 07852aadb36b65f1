using System.Collections.Generic;
using System.Linq;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Passes;

/// <summary>Merges nodes that apply the same op to the same operands. Stateful ops (random masks) and leaves are never merged.</summary>
public static class CommonSubexpressionElimination
{
    /// <summary>Runs the pass.</summary>
    public static ComputeGraph Run(ComputeGraph graph)
    {
        var seen = new Dictionary<string, Node>();
        return GraphRewriter.Rewrite(graph, (old, inputs, target) =>
        {
            if (old.Op is LeafOp || old.Op.IsStateful) return null;
            string key = old.Op.Key + "(" + string.Join(",", inputs.Select(i => i.Id)) + ")";
            if (seen.TryGetValue(key, out var existing)) return existing;
            var copy = GraphRewriter.Copy(old, inputs, target);
            seen[key] = copy;
            return copy;
        });
    }
}
