using Graph;
using Graph.Builder;

namespace RegularizationExample;

/// <summary>
/// A deliberately big MLP, 784-512-512-10 with ReLU (about 670 000 parameters), for a training set of
/// only 1000 images: it can memorize them. The weights are declared with m.Parameter and applied with
/// MatMul (what Dense does) so that the L2 penalty can name them.
/// </summary>
internal static class BigMlp
{
    public const int Hidden = 512;

    /// <param name="m">The model.</param>
    /// <param name="l2">λ of the penalty λ·Σw² over the three weight matrices (biases are not penalized); 0 for none.</param>
    /// <param name="dropout">Dropout probability after each hidden layer; 0 for none.</param>
    public static void Build(ModelBuilder m, double l2, double dropout)
    {
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);

        var w1 = Weight(m, "fc1", 784, Hidden);
        var w2 = Weight(m, "fc2", Hidden, Hidden);
        var w3 = Weight(m, "fc3", Hidden, 10);

        var h = (x.Flatten().MatMul(w1) + Bias(m, "fc1", 784, Hidden)).Relu().Dropout(dropout);
        h = (h.MatMul(w2) + Bias(m, "fc2", Hidden, Hidden)).Relu().Dropout(dropout);
        var logits = h.MatMul(w3) + Bias(m, "fc3", Hidden, 10);
        m.Output(logits);

        var loss = logits.SoftmaxCrossEntropy(y);
        if (l2 > 0) loss = loss + w1.L2Penalty(l2) + w2.L2Penalty(l2) + w3.L2Penalty(l2);
        m.Loss(loss);
    }

    // PyTorch's nn.Linear initialization, U(±1/√fan_in), for the weight [in, out] and the bias [out].
    private static Tensor Weight(ModelBuilder m, string layer, int inputs, int outputs) =>
        m.Parameter(layer + ".weight", new[] { inputs, outputs }, Init.TorchDefault.WithFans(inputs, outputs));

    private static Tensor Bias(ModelBuilder m, string layer, int inputs, int outputs) =>
        m.Parameter(layer + ".bias", new[] { outputs }, Init.TorchDefault.WithFans(inputs, outputs));
}

/// <summary>No regularization (also used with early stopping).</summary>
[Model]
public partial class Plain
{
    static void Define(ModelBuilder m)
    {
        BigMlp.Build(m, l2: 0, dropout: 0);
    }
}

/// <summary>L2 penalty 5e-4·Σw² added to the loss (PyTorch SGD/Adam weight_decay = 1e-3 is the same gradient).</summary>
[Model]
public partial class WithL2
{
    public const double Lambda = 5e-4;

    static void Define(ModelBuilder m)
    {
        BigMlp.Build(m, l2: Lambda, dropout: 0);
    }
}

/// <summary>Dropout with p = 0.5 after both hidden layers (inverted dropout: the identity at evaluation).</summary>
[Model]
public partial class WithDropout
{
    public const double P = 0.5;

    static void Define(ModelBuilder m)
    {
        BigMlp.Build(m, l2: 0, dropout: P);
    }
}
