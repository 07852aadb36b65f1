using System.Linq;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Passes;

/// <summary>
/// Evaluates, with the reference interpreter's op evaluation, every node whose operands are all
/// constants (and element counts that do not involve the batch), replacing it by a constant.
/// </summary>
public static class ConstantFolding
{
    /// <summary>Runs the pass.</summary>
    public static ComputeGraph Run(ComputeGraph graph)
    {
        var context = new EvalContext(batch: 1, Mode.Train, seed: 0, step: 0);
        return GraphRewriter.Rewrite(graph, (old, inputs, target) =>
        {
            if (old.Op is LeafOp or ConstantOp || old.Op.IsStateful || old.Shape.HasBatch) return null;
            if (old.Op is CountOp count)
            {
                if (count.Axes.Any(a => inputs[0].Shape[a] == Shape.Batch)) return null;
                return Constant(count.Evaluate(new[] { TensorValue.Zeros(inputs[0].Shape.Concrete(1)) }, context), old, target);
            }
            if (old.Op is ModeSelectOp || !inputs.All(i => i.Op is ConstantOp)) return null;
            var value = old.Op.Evaluate(inputs.Select(i => ((ConstantOp)i.Op).Value).ToArray(), context);
            return Constant(value, old, target);
        });
    }

    private static Node Constant(TensorValue value, Node old, ComputeGraph target) =>
        target.Add(new ConstantOp(value, old.DType), System.Array.Empty<Node>(), old.Name, old.Location);
}
