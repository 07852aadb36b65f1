using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Passes;

/// <summary>
/// Copies a graph node by node into a new graph, letting a pass replace any node by one already
/// in the new graph. Outputs follow their nodes. All passes are built on it, so each stays a
/// small local rule and the result is always a well-formed, topologically ordered graph.
/// </summary>
public static class GraphRewriter
{
    /// <summary>
    /// A rewrite rule: given the old node and the new graph with the node's operands already mapped,
    /// return a node of the new graph to stand for it, or null to copy it unchanged.
    /// </summary>
    public delegate Node? Rule(Node old, IReadOnlyList<Node> newInputs, ComputeGraph target);

    /// <summary>Rewrites every node of <paramref name="graph"/> with <paramref name="rule"/>, keeping only <paramref name="keep"/> nodes (all if null).</summary>
    public static ComputeGraph Rewrite(ComputeGraph graph, Rule rule, Func<Node, bool>? keep = null, Func<GraphOutput, bool>? keepOutput = null)
    {
        var target = new ComputeGraph(graph.Name);
        var map = new Node?[graph.Nodes.Count];
        foreach (var node in graph.Nodes)
        {
            if (keep is not null && !keep(node)) continue;
            var inputs = node.Inputs.Select(i => map[i.Id] ?? throw new InvalidOperationException($"{node.Ref} uses {i.Ref}, which the pass removed.")).ToArray();
            map[node.Id] = rule(node, inputs, target) ?? Copy(node, inputs, target);
        }
        foreach (var output in graph.Outputs)
        {
            if (keepOutput is not null && !keepOutput(output)) continue;
            var node = map[output.Node.Id] ?? throw new InvalidOperationException($"Output {output.Name} lost its node.");
            target.SetOutput(output.WithNode(node));
        }
        return target;
    }

    /// <summary>Adds a copy of <paramref name="node"/> with new operands.</summary>
    public static Node Copy(Node node, IReadOnlyList<Node> inputs, ComputeGraph target) =>
        target.Add(node.Op, inputs, node.Op is LeafOp ? null : node.Name, node.Location);
}
