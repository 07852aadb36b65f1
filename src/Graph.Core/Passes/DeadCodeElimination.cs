using Graph.Ir;
using Graph.Ops;

namespace Graph.Passes;

/// <summary>Removes nodes no output depends on. Inputs, parameters and state always stay: they are the model's interface.</summary>
public static class DeadCodeElimination
{
    /// <summary>Runs the pass.</summary>
    public static ComputeGraph Run(ComputeGraph graph)
    {
        var live = new bool[graph.Nodes.Count];
        foreach (var output in graph.Outputs) live[output.Node.Id] = true;
        for (int id = graph.Nodes.Count - 1; id >= 0; id--)
        {
            var node = graph.Nodes[id];
            if (node.Op is LeafOp) live[id] = true;
            if (!live[id]) continue;
            foreach (var input in node.Inputs) live[input.Id] = true;
        }
        return GraphRewriter.Rewrite(graph, (_, _, _) => null, n => live[n.Id]);
    }
}
