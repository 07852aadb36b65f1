using Graph;
using Graph.Builder;

namespace Graph.Benchmarks.Models;

// The models of the model workloads (Workloads/ModelWorkload.cs), compiled by Graph's source generator like any user's
// [Model] class. Workloads/TorchModels.cs builds the same networks from torch.nn modules; keep the two in step.
// Inputs are MNIST-shaped [N, 1, 28, 28] (the dense-only models flatten them), labels are classes 0-9.

/// <summary>Linear regression: dense 1 → 1 on the mean squared error (SGD lr 0.01, batch 64).</summary>
[Model]
public partial class BenchLinReg
{
    internal static void Define(ModelBuilder m)
    {
        var x = m.Input("x", 1);
        var y = m.Targets("y", 1);
        var prediction = x.Dense(1, "fc");
        m.Output(prediction);
        m.Loss(prediction.MseLoss(y));
    }
}

/// <summary>Softmax regression: dense 784 → 10, softmax cross-entropy (SGD lr 0.1, batch 64).</summary>
[Model]
public partial class BenchSoftmax
{
    internal static void Define(ModelBuilder m)
    {
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);
        var logits = x.Flatten().Dense(10, "fc");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
    }
}

/// <summary>MLP 784-128(ReLU)-10 (Adam lr 1e-3, batch 64; batch 1 for inference).</summary>
[Model]
public partial class BenchMlp
{
    internal static void Define(ModelBuilder m)
    {
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);
        var h = x.Flatten().Dense(128, "fc1").Relu();
        var logits = h.Dense(10, "fc2");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
    }
}

/// <summary>Wide MLP 784-1024(ReLU)-1024(ReLU)-10 (SGD momentum 0.9 lr 0.01, batch 256).</summary>
[Model]
public partial class BenchMlpWide
{
    internal static void Define(ModelBuilder m)
    {
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);
        var h = x.Flatten().Dense(1024, "fc1").Relu();
        h = h.Dense(1024, "fc2").Relu();
        var logits = h.Dense(10, "fc3");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
    }
}

/// <summary>
/// LeNet-5: conv 5×5×6 pad 2, ReLU, max-pool 2, conv 5×5×16, ReLU, max-pool 2, dense 120, ReLU, dense 84, ReLU,
/// dense 10 (Adam lr 1e-3, batch 64; batch 1 for inference).
/// </summary>
[Model]
public partial class BenchLeNet5
{
    internal static void Define(ModelBuilder m)
    {
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);
        var h = x.Conv2d(6, kernel: 5, padding: 2, name: "conv1").Relu().MaxPool2d(2);      // [N, 6, 14, 14]
        h = h.Conv2d(16, kernel: 5, name: "conv2").Relu().MaxPool2d(2);                     // [N, 16, 5, 5]
        h = h.Flatten().Dense(120, "fc1").Relu();
        h = h.Dense(84, "fc2").Relu();
        var logits = h.Dense(10, "fc3");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
    }
}

/// <summary>
/// The "seed" LeNet of the MNIST example: conv 3×3×64 pad 1, ReLU, max-pool 2, conv 3×3×128 pad 1, ReLU, max-pool 2,
/// dense 256, ReLU, dense 10 (Adam lr 1e-3, batch 64).
/// </summary>
[Model]
public partial class BenchLeNetSeed
{
    internal static void Define(ModelBuilder m)
    {
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);
        var h = x.Conv2d(64, kernel: 3, padding: 1, name: "conv1").Relu().MaxPool2d(2);    // [N, 64, 14, 14]
        h = h.Conv2d(128, kernel: 3, padding: 1, name: "conv2").Relu().MaxPool2d(2);       // [N, 128, 7, 7]
        h = h.Flatten().Dense(256, "fc1").Relu();
        var logits = h.Dense(10, "fc2");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
    }
}
