using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Builder;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Autodiff;

/// <summary>
/// Symbolic reverse-mode differentiation: walks the graph backwards from the loss and appends
/// each op's VJP (itself built from ops) to the same graph. Because gradients are ordinary nodes,
/// they can be differentiated again.
/// </summary>
public static class ReverseMode
{
    /// <summary>
    /// d<paramref name="loss"/>/d<paramref name="wrt"/>[i] for each i (null when the loss does not depend on it).
    /// The loss must be a scalar. Contributions of nodes used several times are summed; nodes that do
    /// not lie between a <paramref name="wrt"/> and the loss are never visited.
    /// </summary>
    public static Tensor?[] Grad(ModelBuilder builder, Tensor loss, IReadOnlyList<Tensor> wrt)
    {
        if (loss.Shape.Rank != 0)
            throw new ArgumentException($"Grad needs a scalar loss, got {loss.Type}.");
        var graph = builder.Graph;
        int end = loss.Node.Id;

        // Nodes that depend on some wrt (forward sweep) and that the loss depends on (backward sweep).
        var fromWrt = new bool[end + 1];
        foreach (var w in wrt) if (w.Node.Id <= end) fromWrt[w.Node.Id] = true;
        for (int id = 0; id <= end; id++)
            if (!fromWrt[id] && graph.Nodes[id].Inputs.Any(i => fromWrt[i.Id])) fromWrt[id] = true;
        var toLoss = new bool[end + 1];
        toLoss[end] = true;
        for (int id = end; id >= 0; id--)
            if (toLoss[id] && fromWrt[id])
                foreach (var input in graph.Nodes[id].Inputs) toLoss[input.Id] = true;

        var contributions = new Dictionary<int, List<Tensor>>();
        contributions[end] = new List<Tensor> { builder.Constant(1.0) };
        var total = new Dictionary<int, Tensor>();

        for (int id = end; id >= 0; id--)
        {
            if (!toLoss[id] || !fromWrt[id] || !contributions.TryGetValue(id, out var parts)) continue;
            var node = graph.Nodes[id];
            var gradient = Sum(parts);
            total[id] = gradient;
            if (node.Inputs.Count == 0) continue;

            Tensor?[] inputGrads;
            using (builder.AtLocation(node.Location))
            {
                var inputs = node.Inputs.Select(builder.Wrap).ToArray();
                inputGrads = node.Op.Vjp(new VjpContext(inputs, builder.Wrap(node), gradient));
            }
            if (inputGrads.Length != node.Inputs.Count)
                throw new InvalidOperationException($"VJP of {node.Op.Name} returned {inputGrads.Length} gradients for {node.Inputs.Count} inputs.");
            for (int i = 0; i < inputGrads.Length; i++)
            {
                var input = node.Inputs[i];
                var g = inputGrads[i];
                if (g is null || !fromWrt[input.Id]) continue;
                if (!g.Shape.Equals(input.Shape))
                    throw new InvalidOperationException($"VJP of {node.Op.Key} gave a gradient of shape {g.Shape} for operand {i} of shape {input.Shape}.");
                if (!contributions.TryGetValue(input.Id, out var list)) contributions[input.Id] = list = new List<Tensor>();
                list.Add(g);
            }
        }

        return wrt.Select(w => total.TryGetValue(w.Node.Id, out var g) ? g : null).ToArray();
    }

    private static Tensor Sum(List<Tensor> parts)
    {
        var sum = parts[0];
        for (int i = 1; i < parts.Count; i++) sum = sum + parts[i];
        return sum;
    }
}
