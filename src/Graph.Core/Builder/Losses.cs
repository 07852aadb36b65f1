using System.Runtime.CompilerServices;
using Graph.Ir;

namespace Graph.Builder;

/// <summary>
/// Losses (called on the prediction, with the target) and penalties. All use PyTorch's definitions
/// with reduction="mean" unless stated, and decompose into primitives that fusion puts back together.
/// </summary>
public sealed partial class Tensor
{
    /// <summary>Mean squared error, mean((ŷ − y)²) over all elements (torch.nn.MSELoss).</summary>
    public Tensor MseLoss(Tensor target, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        CheckSameShape(target, "mse_loss", file, line).Sub(target, null, file, line).Square(null, file, line).Mean("mse_loss", file, line);

    /// <summary>Half mean squared error, ½·mean((ŷ − y)²): the classic regression loss whose gradient is the residual.</summary>
    public Tensor HalfMseLoss(Tensor target, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        MseLoss(target, file, line).Mul(Scalar(0.5), "half_mse_loss", file, line);

    /// <summary>Mean absolute error (torch.nn.L1Loss).</summary>
    public Tensor L1Loss(Tensor target, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        CheckSameShape(target, "l1_loss", file, line).Sub(target, null, file, line).Abs(null, file, line).Mean("l1_loss", file, line);

    /// <summary>
    /// Smooth L1 (torch.nn.SmoothL1Loss): ½d²/β where |d| &lt; β, else |d| − ½β. Written as
    /// ½m²/β + (|d| − m) with m = min(|d|, β), which is the same function without a branch.
    /// </summary>
    public Tensor SmoothL1Loss(Tensor target, double beta = 1.0, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var d = CheckSameShape(target, "smooth_l1_loss", file, line).Sub(target, null, file, line).Abs(null, file, line);
        var m = d.Minimum(Scalar(beta), null, file, line);
        return m.Square(null, file, line).Mul(Scalar(0.5 / beta), null, file, line).Add(d.Sub(m, null, file, line), null, file, line).Mean("smooth_l1_loss", file, line);
    }

    /// <summary>Huber loss (torch.nn.HuberLoss): ½d² where |d| &lt; δ, else δ(|d| − ½δ).</summary>
    public Tensor HuberLoss(Tensor target, double delta = 1.0, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var d = CheckSameShape(target, "huber_loss", file, line).Sub(target, null, file, line).Abs(null, file, line);
        var m = d.Minimum(Scalar(delta), null, file, line);
        return m.Square(null, file, line).Mul(Scalar(0.5), null, file, line).Add(d.Sub(m, null, file, line).Mul(Scalar(delta), null, file, line), null, file, line).Mean("huber_loss", file, line);
    }

    /// <summary>Binary cross-entropy on probabilities (torch.nn.BCELoss), with logs clamped at −100 as PyTorch does.</summary>
    public Tensor BinaryCrossEntropy(Tensor target, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        CheckSameShape(target, "bce_loss", file, line);
        var logP = Log(null, file, line).Maximum(Scalar(-100), null, file, line);
        var logNotP = Scalar(1).Sub(this, null, file, line).Log(null, file, line).Maximum(Scalar(-100), null, file, line);
        var perElement = target.Mul(logP, null, file, line).Add(Scalar(1).Sub(target, null, file, line).Mul(logNotP, null, file, line), null, file, line);
        return perElement.Mean(null, file, line).Neg("bce_loss", file, line);
    }

    /// <summary>
    /// Binary cross-entropy on logits (torch.nn.BCEWithLogitsLoss), in the stable form
    /// max(x, 0) − x·y + log(1 + e^−|x|).
    /// </summary>
    public Tensor BinaryCrossEntropyWithLogits(Tensor target, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        CheckSameShape(target, "bce_with_logits_loss", file, line);
        var softplusTail = Abs(null, file, line).Neg(null, file, line).Exp(null, file, line).Add(Scalar(1), null, file, line).Log(null, file, line);
        return Relu(null, file, line).Sub(Mul(target, null, file, line), null, file, line).Add(softplusTail, null, file, line).Mean("bce_with_logits_loss", file, line);
    }

    /// <summary>
    /// Softmax cross-entropy of logits [N, C] against integer labels [N] or one-hot/probability
    /// targets [N, C] (torch.nn.CrossEntropyLoss): −mean over the batch of Σ target·log_softmax.
    /// </summary>
    public Tensor SoftmaxCrossEntropy(Tensor labels, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        LogSoftmax(1, null, file, line).NllLoss(labels, file, line);

    /// <summary>
    /// Negative log-likelihood of log-probabilities [N, C] against integer labels [N] or
    /// targets [N, C] (torch.nn.NLLLoss): −mean over the batch of the target class's log-probability.
    /// </summary>
    public Tensor NllLoss(Tensor labels, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var targets = ClassTargets(labels, "nll_loss", file, line);
        return Mul(targets, null, file, line).Sum(1, false, null, file, line).Mean(null, file, line).Neg("nll_loss", file, line);
    }

    /// <summary>
    /// Multi-class hinge loss (torch.nn.MultiMarginLoss, p = 1): mean over the batch of
    /// Σ_{i≠y} max(0, margin − x_y + x_i) / C.
    /// </summary>
    public Tensor MultiMarginLoss(Tensor labels, double margin = 1.0, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var oneHot = ClassTargets(labels, "multi_margin_loss", file, line);
        int classes = Shape[1];
        var correct = Mul(oneHot, null, file, line).Sum(1, true, null, file, line);
        var hinge = Sub(correct, null, file, line).Add(Scalar(margin), null, file, line).Relu(null, file, line);
        var others = hinge.Mul(Scalar(1).Sub(oneHot, null, file, line), null, file, line);
        return others.Sum(1, false, null, file, line).Mean(null, file, line).Mul(Scalar(1.0 / classes), "multi_margin_loss", file, line);
    }

    /// <summary>
    /// Cosine distance 1 − cos(ŷ, y) along the feature axis, averaged over the batch
    /// (torch.nn.CosineEmbeddingLoss with target 1, including its ε = 1e-12 on the squared norms).
    /// </summary>
    public Tensor CosineDistance(Tensor target, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        CheckSameShape(target, "cosine_distance", file, line);
        if (Shape.Rank != 2) throw new ShapeException($"expects [N, D] operands, got {Shape}", "cosine_distance", Type.ToString(), Builder.Location(file, line));
        var dot = Mul(target, null, file, line).Sum(1, false, null, file, line);
        var norms = Square(null, file, line).Sum(1, false, null, file, line).Add(Scalar(1e-12), null, file, line)
            .Mul(target.Square(null, file, line).Sum(1, false, null, file, line).Add(Scalar(1e-12), null, file, line), null, file, line).Sqrt(null, file, line);
        return Scalar(1).Sub(dot.Div(norms, null, file, line), null, file, line).Mean("cosine_distance", file, line);
    }

    /// <summary>λ·Σ|w| (L1 penalty; add it to the loss).</summary>
    public Tensor L1Penalty(double lambda, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Abs(null, file, line).Sum(null, file, line).Mul(Scalar(lambda), "l1_penalty", file, line);

    /// <summary>
    /// λ·Σw² (L2 penalty). Note: SGD's weight_decay = wd equals an L2 penalty with λ = wd/2.
    /// </summary>
    public Tensor L2Penalty(double lambda, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Square(null, file, line).Sum(null, file, line).Mul(Scalar(lambda), "l2_penalty", file, line);

    /// <summary>Elastic net: λ₁·Σ|w| + λ₂·Σw².</summary>
    public Tensor ElasticNetPenalty(double l1, double l2, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        L1Penalty(l1, file, line).Add(L2Penalty(l2, file, line), "elastic_net_penalty", file, line);

    private Tensor CheckSameShape(Tensor target, string op, string file, int line)
    {
        if (!Shape.Equals(target.Shape) || target.Type.DType != Type.DType)
            throw new ShapeException($"prediction and target must have the same type, got {Type} and {target.Type}", op, Type + ", " + target.Type, Builder.Location(file, line));
        return this;
    }

    private Tensor ClassTargets(Tensor labels, string op, string file, int line)
    {
        if (Shape.Rank != 2)
            throw new ShapeException($"expects scores [N, C], got {Shape}", op, Type + ", " + labels.Type, Builder.Location(file, line));
        if (labels.Type.DType == DType.Int32)
        {
            if (labels.Shape.Rank != 1 || labels.Shape[0] != Shape[0])
                throw new ShapeException($"labels must be i32[{Shape[0]}] matching the scores' batch, got {labels.Type}", op, Type + ", " + labels.Type, Builder.Location(file, line));
            if (labels.Classes is int declared && declared != Shape[1])
                throw new ShapeException($"labels were declared with {declared} classes but the scores have {Shape[1]}", op, Type + ", " + labels.Type, Builder.Location(file, line));
            return labels.OneHot(Shape[1], file, line);
        }
        if (!labels.Shape.Equals(Shape))
            throw new ShapeException($"targets must match the scores' shape {Shape}, got {labels.Shape}", op, Type + ", " + labels.Type, Builder.Location(file, line));
        return labels;
    }
}
