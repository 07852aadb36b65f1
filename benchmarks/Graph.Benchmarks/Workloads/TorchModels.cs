using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Graph.Benchmarks.Workloads;

/// <summary>
/// The networks of Models/BenchmarkModels.cs from torch.nn modules, parameters in the same order (weight, bias per
/// layer) so that <see cref="ModelWorkload{TLabel}"/> can copy Graph's initial values across.
/// </summary>
public static class TorchModels
{
    public static Module<Tensor, Tensor> LinReg() => Sequential(("fc", Linear(1, 1)));

    public static Module<Tensor, Tensor> Softmax() => Sequential(("flatten", Flatten()), ("fc", Linear(784, 10)));

    public static Module<Tensor, Tensor> Mlp() => Sequential(
        ("flatten", Flatten()), ("fc1", Linear(784, 128)), ("relu1", ReLU()), ("fc2", Linear(128, 10)));

    public static Module<Tensor, Tensor> MlpWide() => Sequential(
        ("flatten", Flatten()), ("fc1", Linear(784, 1024)), ("relu1", ReLU()),
        ("fc2", Linear(1024, 1024)), ("relu2", ReLU()), ("fc3", Linear(1024, 10)));

    public static Module<Tensor, Tensor> LeNet5() => Sequential(
        ("conv1", Conv2d(1, 6, 5, padding: 2)), ("relu1", ReLU()), ("pool1", MaxPool2d(2)),
        ("conv2", Conv2d(6, 16, 5)), ("relu2", ReLU()), ("pool2", MaxPool2d(2)),
        ("flatten", Flatten()), ("fc1", Linear(400, 120)), ("relu3", ReLU()),
        ("fc2", Linear(120, 84)), ("relu4", ReLU()), ("fc3", Linear(84, 10)));

    public static Module<Tensor, Tensor> LeNetSeed() => Sequential(
        ("conv1", Conv2d(1, 64, 3, padding: 1)), ("relu1", ReLU()), ("pool1", MaxPool2d(2)),
        ("conv2", Conv2d(64, 128, 3, padding: 1)), ("relu2", ReLU()), ("pool2", MaxPool2d(2)),
        ("flatten", Flatten()), ("fc1", Linear(6272, 256)), ("relu3", ReLU()), ("fc2", Linear(256, 10)));
}
