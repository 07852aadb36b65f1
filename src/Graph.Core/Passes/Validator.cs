using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Passes;

/// <summary>
/// Checks a graph's invariants: topological order, operands from the same graph, every node's stored
/// type equal to what its op infers now, unique leaf and output names, a scalar loss, gradients shaped
/// like their parameters and state updates like their state. Tests run it after every pass.
/// </summary>
public static class Validator
{
    /// <summary>Throws <see cref="InvalidOperationException"/> listing every violation.</summary>
    public static void Validate(ComputeGraph graph)
    {
        var errors = new List<string>();
        var leafNames = new HashSet<string>();
        for (int id = 0; id < graph.Nodes.Count; id++)
        {
            var node = graph.Nodes[id];
            if (node.Id != id) errors.Add($"node at position {id} has id {node.Id}");
            foreach (var input in node.Inputs)
                if (input.Id >= id || !ReferenceEquals(graph.Nodes[input.Id], input))
                    errors.Add($"{node.Ref} ({node.Op.Name}) uses {input.Ref}, which is not an earlier node of this graph");
            if (node.Op is LeafOp leaf && !leafNames.Add(leaf.LeafName))
                errors.Add($"leaf name '{leaf.LeafName}' is used twice");
            try
            {
                var type = node.Op.InferType(node.Inputs.Select(i => i.Type).ToArray());
                if (!type.Equals(node.Type)) errors.Add($"{node.Ref} ({node.Op.Key}) is typed {node.Type} but its op infers {type}");
            }
            catch (ShapeException e)
            {
                errors.Add($"{node.Ref} ({node.Op.Key}) no longer type-checks: {e.Message}");
            }
        }
        var outputNames = new HashSet<string>();
        foreach (var output in graph.Outputs)
        {
            if (!outputNames.Add(output.Name)) errors.Add($"output '{output.Name}' is declared twice");
            if (output.Node.Id >= graph.Nodes.Count || !ReferenceEquals(graph.Nodes[output.Node.Id], output.Node))
            {
                errors.Add($"output '{output.Name}' refers to a node of another graph");
                continue;
            }
            switch (output.Role)
            {
                case OutputRole.Loss when output.Node.Shape.Rank != 0:
                    errors.Add($"loss '{output.Name}' is not a scalar: {output.Node.Type}");
                    break;
                case OutputRole.Gradient or OutputRole.StateUpdate:
                    var leaf = output.Target is null ? null : graph.FindLeaf(output.Target);
                    if (leaf is null) errors.Add($"output '{output.Name}' targets unknown '{output.Target}'");
                    else if (!leaf.Type.Equals(output.Node.Type)) errors.Add($"output '{output.Name}' is {output.Node.Type} but '{output.Target}' is {leaf.Type}");
                    break;
            }
        }
        if (errors.Count > 0)
            throw new InvalidOperationException($"Graph '{graph.Name}' is invalid:\n  " + string.Join("\n  ", errors));
    }
}
