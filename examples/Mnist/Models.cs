using Graph;
using Graph.Builder;

namespace MnistExample;

// The four MNIST classifiers of the course. Each Define runs at build time inside the source
// generator, which emits the forward pass, the backward pass and the training step into the class.
// Inputs are the 28×28 images as [N, 1, 28, 28] (CHW, pixels in [0, 1]); labels are digits 0–9.

/// <summary>Softmax regression: one dense layer 784 → 10 (train with SGD, lr 0.1).</summary>
[Model]
public partial class SoftmaxRegression
{
    static void Define(ModelBuilder m)
    {
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);
        var logits = x.Flatten().Dense(10, "fc");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
    }
}

/// <summary>Multilayer perceptron 784-128-10 with ReLU (train with Adam, lr 1e-3).</summary>
[Model]
public partial class Mlp
{
    static void Define(ModelBuilder m)
    {
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);
        var h = x.Flatten().Dense(128, "fc1").Relu();
        var logits = h.Dense(10, "fc2");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
    }
}

/// <summary>
/// A small modern "LeNet": two 3×3 convolutions (64 and 128 channels, "same" padding) each followed by
/// ReLU and 2×2 max-pooling, then dense 256 + ReLU and dense 10 (train with Adam, lr 1e-3).
/// </summary>
[Model]
public partial class LeNet
{
    static void Define(ModelBuilder m)
    {
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);
        var h = x.Conv2d(64, kernel: 3, padding: 1, name: "conv1").Relu().MaxPool2d(2);    // [N, 64, 14, 14]
        h = h.Conv2d(128, kernel: 3, padding: 1, name: "conv2").Relu().MaxPool2d(2);       // [N, 128, 7, 7]
        h = h.Flatten().Dense(256, "fc1").Relu();                                          // 6272 → 256
        var logits = h.Dense(10, "fc2");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
    }
}

/// <summary>
/// LeNet-5 (LeCun et al., 1998) with ReLU and max-pooling: conv 5×5×6 (padding 2), pool, conv 5×5×16,
/// pool, dense 120, dense 84, dense 10 (train with Adam, lr 1e-3).
/// </summary>
[Model]
public partial class LeNet5
{
    static void Define(ModelBuilder m)
    {
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);
        var h = x.Conv2d(6, kernel: 5, padding: 2, name: "conv1").Relu().MaxPool2d(2);      // [N, 6, 14, 14]
        h = h.Conv2d(16, kernel: 5, name: "conv2").Relu().MaxPool2d(2);                     // [N, 16, 5, 5]
        h = h.Flatten().Dense(120, "fc1").Relu();                                          // 400 → 120
        h = h.Dense(84, "fc2").Relu();
        var logits = h.Dense(10, "fc3");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
    }
}
