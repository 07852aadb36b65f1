using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Passes;

/// <summary>
/// Local identities: x+0, x−0, x·1, x/1, −(−x), x^1, reshapes and transposes that cancel or compose,
/// broadcasts to the same shape, and symbolic zeros (a zero operand of a product, a linear op or a
/// reduction gives zero), which is how the unused branch of a mode-specialized gradient disappears.
/// Zero propagation assumes finite operands, as symbolic-zero handling in autodiff systems does.
/// </summary>
public static class AlgebraicSimplification
{
    /// <summary>Runs the pass.</summary>
    public static ComputeGraph Run(ComputeGraph graph) => GraphRewriter.Rewrite(graph, Simplify);

    private static Node? Simplify(Node old, IReadOnlyList<Node> inputs, ComputeGraph target)
    {
        Node? SameTypeOr(Node candidate) => candidate.Type.Equals(old.Type) ? candidate : null;
        Node Zeros() => MakeZeros(old, target);

        // A binary op broadcasts by itself: an explicit broadcast of one operand is redundant.
        if (old.Op is BinaryPointwiseOp && inputs.Any(i => i.Op is BroadcastToOp))
        {
            var direct = inputs.Select(i => i.Op is BroadcastToOp ? i.Inputs[0] : i).ToArray();
            for (int k = 0; k < 2; k++)
            {
                var candidate = inputs.ToArray();
                candidate[k] = direct[k];
                if (!ReferenceEquals(candidate[k], inputs[k]) && ResultShape(candidate).Equals(old.Shape))
                    return target.Add(old.Op, candidate, old.Name, old.Location);
            }
        }
        // Reshapes and broadcasts of a single value collapse into one broadcast of that value.
        // A root that does not broadcast to the result ([1,1,1,1] reshaped to [1], or [1,1,1] to [N,1]) is
        // reshaped instead: to the result when that is a single batch-free value, else to a scalar that is then broadcast.
        if (old.Op is BroadcastToOp or ReshapeOp && ScalarRoot(inputs[0]) is Node root && !ReferenceEquals(root, inputs[0]))
        {
            if (root.Shape.Equals(old.Shape)) return root;
            if (Broadcasting.CanBroadcastTo(root.Shape, old.Shape)) return target.Add(new BroadcastToOp(old.Shape), new[] { root }, old.Name, old.Location);
            if (!old.Shape.HasBatch && old.Shape.ConstantSize == 1) return Rebuild(new ReshapeOp(old.Shape), old, target, root);
            var scalar = target.Add(new ReshapeOp(Shape.Scalar), new[] { root }, null, old.Location);
            return target.Add(new BroadcastToOp(old.Shape), new[] { scalar }, old.Name, old.Location);
        }

        switch (old.Op)
        {
            case AddOp:
                if (IsConstant(inputs[1], 0)) return SameTypeOr(inputs[0]) ?? Broadcast(inputs[0], old, target);
                if (IsConstant(inputs[0], 0)) return SameTypeOr(inputs[1]) ?? Broadcast(inputs[1], old, target);
                if (inputs[1].Op is NegOp) return target.Add(new SubOp(), new[] { inputs[0], inputs[1].Inputs[0] }, old.Name, old.Location);
                return null;
            case SubOp:
                if (IsConstant(inputs[1], 0)) return SameTypeOr(inputs[0]) ?? Broadcast(inputs[0], old, target);
                if (IsConstant(inputs[0], 0)) return Rebuild(new NegOp(), old, target, inputs[1]);
                return null;
            case MulOp:
                if (IsConstant(inputs[0], 0) || IsConstant(inputs[1], 0)) return Zeros();
                if (IsConstant(inputs[1], 1)) return SameTypeOr(inputs[0]) ?? Broadcast(inputs[0], old, target);
                if (IsConstant(inputs[0], 1)) return SameTypeOr(inputs[1]) ?? Broadcast(inputs[1], old, target);
                if (IsConstant(inputs[1], -1) && SameTypeOr(inputs[0]) is not null) return Rebuild(new NegOp(), old, target, inputs[0]);
                if (IsConstant(inputs[0], -1) && SameTypeOr(inputs[1]) is not null) return Rebuild(new NegOp(), old, target, inputs[1]);
                return null;
            case DivOp:
                if (IsConstant(inputs[0], 0)) return Zeros();
                if (IsConstant(inputs[1], 1)) return SameTypeOr(inputs[0]) ?? Broadcast(inputs[0], old, target);
                return null;
            case NegOp:
                if (IsConstant(inputs[0], 0)) return Zeros();
                if (inputs[0].Op is NegOp) return inputs[0].Inputs[0];
                return null;
            case PowScalarOp p when p.Exponent == 1:
                return inputs[0];
            case ModeSelectOp:
                return ReferenceEquals(inputs[0], inputs[1]) ? inputs[0] : null;
            case ReshapeOp:
                if (inputs[0].Shape.Equals(old.Shape)) return inputs[0];
                if (IsConstant(inputs[0], 0)) return Zeros();
                if (inputs[0].Op is ReshapeOp) return Rebuild(old.Op, old, target, inputs[0].Inputs[0]);
                return null;
            case TransposeOp t:
                if (IsConstant(inputs[0], 0)) return Zeros();
                if (t.Permutation.Select((p, i) => p == i).All(b => b)) return inputs[0];
                if (inputs[0].Op is TransposeOp inner)
                {
                    var composed = t.Permutation.Select(p => inner.Permutation[p]).ToArray();
                    return composed.Select((p, i) => p == i).All(b => b)
                        ? inputs[0].Inputs[0]
                        : Rebuild(new TransposeOp(composed), old, target, inputs[0].Inputs[0]);
                }
                return null;
            case BroadcastToOp:
                if (inputs[0].Shape.Equals(old.Shape)) return inputs[0];
                if (inputs[0].Op is BroadcastToOp) return Rebuild(old.Op, old, target, inputs[0].Inputs[0]);
                return null;
            case SumOp or MaxOp or MatMulOp or Conv2dOp or Conv2dInputGradOp or Conv2dFilterGradOp or AvgPool2dOp or AvgPool2dGradOp or SliceOp:
                // Linear in a zero operand (max of zeros is zero too).
                return inputs.Any(i => IsConstant(i, 0)) && old.Op is not MaxOp || old.Op is MaxOp && IsConstant(inputs[0], 0) ? Zeros() : null;
            case MaxPool2dGradOp:
                return IsConstant(inputs[1], 0) ? Zeros() : null;
            case ConcatOp:
                return inputs.All(i => IsConstant(i, 0)) ? Zeros() : null;
            default:
                return null;
        }
    }

    /// <summary>True for a constant whose elements all equal <paramref name="value"/>, possibly broadcast.</summary>
    public static bool IsConstant(Node node, double value)
    {
        while (node.Op is BroadcastToOp or ReshapeOp) node = node.Inputs[0];
        return node.Op is ConstantOp c && c.Value.Data.All(v => v == value);
    }

    private static Shape ResultShape(Node[] operands)
    {
        try { return Broadcasting.Result(operands[0].Shape, operands[1].Shape); }
        catch (ShapeException) { return Shape.Scalar; }
    }

    /// <summary>The single-element, batch-free value that a chain of reshapes and broadcasts spreads, if any.</summary>
    private static Node? ScalarRoot(Node node)
    {
        var current = node;
        while (current.Op is BroadcastToOp or ReshapeOp) current = current.Inputs[0];
        return current.Shape.ConstantSize == 1 && !current.Shape.HasBatch && Broadcasting.CanBroadcastTo(Shape.Scalar, node.Shape) ? current : null;
    }

    private static Node MakeZeros(Node old, ComputeGraph target)
    {
        var zero = target.Add(new ConstantOp(TensorValue.Scalar(0), old.DType), Array.Empty<Node>(), null, old.Location);
        return old.Shape.Rank == 0 ? zero : target.Add(new BroadcastToOp(old.Shape), new[] { zero }, old.Name, old.Location);
    }

    private static Node Broadcast(Node value, Node old, ComputeGraph target) =>
        target.Add(new BroadcastToOp(old.Shape), new[] { value }, old.Name, old.Location);

    private static Node Rebuild(Op op, Node old, ComputeGraph target, params Node[] inputs) =>
        target.Add(op, inputs, old.Name, old.Location);
}
