using System.Collections.Generic;
using System.Linq;
using Graph.Builder;
using Graph.Interpretation;

namespace Graph.Tests;

/// <summary>
/// The gradient-check table: every op of the course, alone and in composites. Each row builds a graph
/// from leaves whose values the harness feeds (see <see cref="GradientCheck"/> for how it avoids kinks).
/// The same table is run on every engine (generated C#, IL JIT) by their agreement tests, which link this file.
/// </summary>
public static class GradientTable
{
    private static Tensor P(ModelBuilder m, string name, params int[] shape) => m.Parameter(name, shape, Init.Zeros);
    /// <summary>
    /// When set (engine agreement tests), every float input is multiplied by a parameter of its per-example shape
    /// (values in [0.5, 2]), so that parameter's gradient checks the backward pass through everything downstream of the input.
    /// </summary>
    [System.ThreadStatic] public static bool ScaleInputs;

    private static Tensor X(ModelBuilder m, string name, params int[] shape)
    {
        var x = m.Input(name, shape);
        if (!ScaleInputs || name.StartsWith("prob")) return x;
        return x * m.Parameter("pos_scale_" + name, shape, Init.Ones);
    }

    public static readonly GradCase[] Cases =
    {
        // Pointwise unary.
        new("neg", m => X(m, "x", 4).Neg()),
        new("exp", m => X(m, "x", 4).Exp()),
        new("log", m => X(m, "pos_x", 4).Log()),
        new("sqrt", m => X(m, "pos_x", 4).Sqrt()),
        new("abs", m => X(m, "x", 4).Abs()),
        new("sign (zero gradient)", m => X(m, "x", 4).Sign() * X(m, "y", 4)),
        new("relu", m => X(m, "x", 5).Relu()),
        new("leaky relu", m => X(m, "x", 5).LeakyRelu(0.1)),
        new("elu", m => X(m, "x", 5).Elu(0.7)),
        new("sigmoid", m => X(m, "x", 4).Sigmoid()),
        new("tanh", m => X(m, "x", 4).Tanh()),
        new("pow scalar 3", m => X(m, "x", 4).Pow(3)),
        new("pow scalar 0.5", m => X(m, "pos_x", 4).Pow(0.5)),
        new("square", m => X(m, "x", 4).Square()),
        // Binary with broadcasting.
        new("add broadcast", m => X(m, "x", 3) + P(m, "b", 3)),
        new("sub broadcast column", m => X(m, "x", 1) - X(m, "y", 4)),
        new("mul broadcast", m => X(m, "x", 2, 3) * P(m, "w", 1, 3)),
        new("div", m => X(m, "x", 3) / X(m, "pos_y", 3)),
        new("scalar arithmetic", m => 2.0 - X(m, "x", 3) * 3.0 / 4.0 + 1.5),
        new("pow tensor", m => X(m, "pos_x", 3).Pow(P(m, "e", 3))),
        new("maximum", m => X(m, "x", 4).Maximum(X(m, "y", 4))),
        new("minimum", m => X(m, "x", 4).Minimum(P(m, "y", 4))),
        new("clamp", m => X(m, "x", 6).Clamp(-0.5, 0.5)),
        // Reductions.
        new("sum all", m => X(m, "x", 3, 2).Sum()),
        new("sum axis", m => X(m, "x", 3, 2).Sum(1)),
        new("sum keepdims", m => X(m, "x", 3, 2).Sum(new[] { 0, 2 }, keepDims: true) * P(m, "w", 3, 1)),
        new("mean over batch", m => X(m, "x", 4).Mean(0)),
        new("mean all", m => X(m, "x", 4).Mean()),
        new("max axis", m => X(m, "x", 5).Max(1)),
        new("max over batch keepdims", m => X(m, "x", 5).Max(0, keepDims: true) * X(m, "y", 5)),
        new("logsumexp", m => X(m, "x", 5).LogSumExp(1)),
        // Shape manipulation.
        new("reshape", m => X(m, "x", 6).Reshape(new[] { -1, 2, 3 }) * P(m, "w", 2, 3)),
        new("flatten", m => X(m, "x", 2, 2, 2).Flatten()),
        new("transpose", m => P(m, "a", 3, 4).Transpose()),
        new("transpose rank 3", m => X(m, "x", 2, 3).Transpose(new[] { 2, 0, 1 })),
        new("concat", m => Tensor.Concat(1, X(m, "x", 2), P(m, "b", 1, 3).BroadcastTo(new Ir.Shape(-1, 3)), X(m, "y", 1))),
        new("slice", m => X(m, "x", 6).Slice(1, 2, 3)),
        new("broadcast", m => P(m, "b", 4).BroadcastTo(new Ir.Shape(-1, 4)) * X(m, "x", 4)),
        // Linear algebra.
        new("matmul", m => X(m, "x", 4).MatMul(P(m, "w", 4, 3))),
        new("matmul A·Bᵀ", m => X(m, "x", 4).MatMul(P(m, "w", 3, 4), transposeB: true)),
        new("matmul Aᵀ·B", m => X(m, "x", 4).MatMul(X(m, "y", 2), transposeA: true)),
        new("matmul Aᵀ·Bᵀ", m => P(m, "a", 4, 3).MatMul(P(m, "b", 2, 4), transposeA: true, transposeB: true)),
        new("dense", m => X(m, "x", 4).Dense(3, "fc")),
        // Convolution and pooling.
        new("conv2d", m => X(m, "x", 2, 5, 5).Conv2d(P(m, "w", 3, 2, 3, 3)), batch: 2),
        new("conv2d stride 2 pad 1", m => X(m, "x", 2, 6, 5).Conv2d(P(m, "w", 2, 2, 3, 3), stride: 2, padding: 1), batch: 2),
        new("conv layer with bias", m => X(m, "x", 1, 5, 5).Conv2d(2, 3, padding: 1, name: "conv"), batch: 2),
        new("max pool", m => X(m, "x", 2, 4, 4).MaxPool2d(2), batch: 2),
        new("max pool 3 stride 2 pad 1", m => X(m, "x", 1, 5, 5).MaxPool2d(3, 2, 1), batch: 2),
        new("avg pool", m => X(m, "x", 2, 4, 4).AvgPool2d(2), batch: 2),
        new("avg pool 3 stride 2 pad 1", m => X(m, "x", 1, 5, 5).AvgPool2d(3, 2, 1), batch: 2),
        // Softmax family.
        new("softmax", m => X(m, "x", 5).Softmax()),
        new("log softmax", m => X(m, "x", 5).LogSoftmax()),
        // Normalization and regularization layers.
        new("batch norm train [N,C]", m => X(m, "x", 3).BatchNorm("bn"), batch: 4),
        new("batch norm eval [N,C]", m => X(m, "x", 3).BatchNorm("bn"), Mode.Eval, batch: 4),
        new("batch norm train [N,C,H,W]", m => X(m, "x", 2, 3, 3).BatchNorm("bn"), batch: 2),
        new("batch norm eval [N,C,H,W]", m => X(m, "x", 2, 3, 3).BatchNorm("bn"), Mode.Eval, batch: 2),
        new("dropout train", m => X(m, "x", 8).Dropout(0.5)),
        new("dropout eval", m => X(m, "x", 8).Dropout(0.5), Mode.Eval),
        // Losses.
        new("mse", m => X(m, "x", 3).MseLoss(m.Targets("t", 3))),
        new("half mse", m => X(m, "x", 3).HalfMseLoss(m.Targets("t", 3))),
        new("l1", m => X(m, "x", 3).L1Loss(m.Targets("t", 3))),
        new("smooth l1", m => (X(m, "x", 4) * 3.0).SmoothL1Loss(m.Targets("t", 4))),
        new("smooth l1 beta 0.5", m => (X(m, "x", 4) * 2.0).SmoothL1Loss(m.Targets("t", 4), beta: 0.5)),
        new("huber delta 2", m => (X(m, "x", 4) * 5.0).HuberLoss(m.Targets("t", 4), delta: 2)),
        new("bce", m => X(m, "prob_p", 3).BinaryCrossEntropy(m.Targets("prob_t", 3))),
        new("bce with logits", m => (X(m, "x", 3) * 4.0).BinaryCrossEntropyWithLogits(m.Targets("prob_t", 3))),
        new("softmax cross-entropy labels", m => X(m, "x", 4).SoftmaxCrossEntropy(m.Labels("y", 4))),
        new("softmax cross-entropy one-hot", m => X(m, "x", 4).SoftmaxCrossEntropy(m.Targets("prob_t", 4))),
        new("nll", m => X(m, "x", 4).LogSoftmax().NllLoss(m.Labels("y", 4))),
        new("multi-class hinge", m => (X(m, "x", 4) * 2.0).MultiMarginLoss(m.Labels("y", 4))),
        new("multi-class hinge margin 0.5", m => X(m, "x", 4).MultiMarginLoss(m.Labels("y", 4), margin: 0.5)),
        new("cosine distance", m => X(m, "x", 4).CosineDistance(X(m, "y", 4))),
        // Penalties.
        new("l1 penalty", m => P(m, "w", 3, 2).L1Penalty(0.1)),
        new("l2 penalty", m => P(m, "w", 3, 2).L2Penalty(0.1)),
        new("elastic net", m => P(m, "w", 3, 2).ElasticNetPenalty(0.1, 0.2)),
        // Composites.
        new("mlp with softmax cross-entropy", m =>
        {
            var x = X(m, "x", 6);
            var logits = x.Dense(5, "fc1").Relu().Dense(4, "fc2");
            return logits.SoftmaxCrossEntropy(m.Labels("y", 4)) + logits.Dense(2, "unused").Sum() * 0.0;
        }),
        new("small cnn train (bn, dropout)", m =>
        {
            var h = X(m, "x", 1, 6, 6).Conv2d(2, 3, padding: 1, name: "c1").BatchNorm("bn1").Relu().MaxPool2d(2);
            var logits = h.Flatten().Dropout(0.3).Dense(3, "fc");
            return logits.SoftmaxCrossEntropy(m.Labels("y", 3));
        }, batch: 3, classes: 3),
        new("small cnn eval (bn, dropout)", m =>
        {
            var h = X(m, "x", 1, 6, 6).Conv2d(2, 3, padding: 1, name: "c1").BatchNorm("bn1").Relu().MaxPool2d(2);
            var logits = h.Flatten().Dropout(0.3).Dense(3, "fc");
            return logits.SoftmaxCrossEntropy(m.Labels("y", 3));
        }, Mode.Eval, batch: 3, classes: 3),
        new("residual block", m =>
        {
            var x = X(m, "x", 4);
            var h = x.Dense(4, "a").Tanh().Dense(4, "b");
            return (x + h).Relu().Dense(2, "out");
        }),
        new("node used twice", m =>
        {
            var h = X(m, "x", 3).Dense(3, "fc").Sigmoid();
            return h * h + h.Exp();
        }),
        new("node not reaching the loss", m =>
        {
            var x = X(m, "x", 3);
            _ = P(m, "orphan", 3) * x;
            return x.Dense(2, "fc");
        }),
    };

    public static IEnumerable<object[]> Rows => Cases.Select(c => new object[] { c.Name });

    public static GradCase Find(string name) => Cases.Single(c => c.Name == name);
}
