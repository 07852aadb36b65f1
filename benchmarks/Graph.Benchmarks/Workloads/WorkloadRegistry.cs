using System;
using System.Collections.Generic;
using Graph.Benchmarks.Models;
using Graph.Runtime.Kernels;

namespace Graph.Benchmarks.Workloads;

/// <summary>The workloads <c>compare</c> knows, in the order it runs them when none are named.</summary>
public static partial class WorkloadRegistry
{
    /// <summary>Name and factory of every workload (factories, so that unselected workloads allocate nothing).</summary>
    public static IReadOnlyList<(string Name, Func<IWorkload> Create)> All { get; } = Build();

    /// <summary>The names of the model workloads (training steps and inference), for the BenchmarkDotNet suites.</summary>
    public static IEnumerable<string> ModelNames => ["linreg", "softmax", "mlp", "mlp-wide", "lenet5", "lenet-seed",
        "infer-mlp-b1", "infer-lenet5-b1", "infer-lenet-seed-b64"];

    /// <summary>Creates the workload called <paramref name="name"/>.</summary>
    public static IWorkload Create(string name)
    {
        foreach (var (workloadName, create) in All)
            if (workloadName == name) return create();
        throw new ArgumentException($"Unknown workload '{name}'.", nameof(name));
    }

    private static List<(string, Func<IWorkload>)> Build()
    {
        List<(string, Func<IWorkload>)> all =
        [
            ("gemm256", () => new GemmWorkload(256)),
            ("gemm1024", () => new GemmWorkload(1024)),
            ("matvec1024", () => new GemmWorkload(1, 1024, 1024)),
            // LeNet-5's convolutions on a batch of 64 MNIST images (bias fused as an epilogue).
            ("conv-lenet1", () => new Conv2dForwardWorkload("conv-lenet1", 64, new Conv2dShape(1, 28, 28, 6, 5, 5, PadH: 2, PadW: 2))),
            ("conv-lenet2", () => new Conv2dForwardWorkload("conv-lenet2", 64, new Conv2dShape(6, 14, 14, 16, 5, 5))),

            // Training steps of generated [Model] classes (Models/BenchmarkModels.cs) against torch.nn + torch.optim.
            ("linreg", () => Train<float>("linreg", "dense 1→1, MSE", 64, b => new BenchLinReg(b, 1), TorchModels.LinReg, TorchLoss.MeanSquaredError, OptimizerSpec.Sgd(0.01))),
            ("softmax", () => Train("softmax", "dense 784→10, softmax CE", 64, b => new BenchSoftmax(b, 1), TorchModels.Softmax, TorchLoss.CrossEntropy, OptimizerSpec.Sgd(0.1))),
            ("mlp", () => Train("mlp", "784-128-10 ReLU, softmax CE", 64, b => new BenchMlp(b, 1), TorchModels.Mlp, TorchLoss.CrossEntropy, OptimizerSpec.Adam(1e-3))),
            ("mlp-wide", () => Train("mlp-wide", "784-1024-1024-10 ReLU, softmax CE", 256, b => new BenchMlpWide(b, 1), TorchModels.MlpWide, TorchLoss.CrossEntropy, OptimizerSpec.Sgd(0.01, 0.9))),
            ("lenet5", () => Train("lenet5", "LeNet-5 (conv5×5×6 p2, pool, conv5×5×16, pool, 120, 84, 10)", 64, b => new BenchLeNet5(b, 1), TorchModels.LeNet5, TorchLoss.CrossEntropy, OptimizerSpec.Adam(1e-3))),
            ("lenet-seed", () => Train("lenet-seed", "conv3×3×64 p1, pool, conv3×3×128 p1, pool, 256, 10", 64, b => new BenchLeNetSeed(b, 1), TorchModels.LeNetSeed, TorchLoss.CrossEntropy, OptimizerSpec.Adam(1e-3))),

            // Forward passes only (Graph's Predict; torch under no_grad, eval mode).
            ("infer-mlp-b1", () => Infer("infer-mlp-b1", "784-128-10 forward", 1, b => new BenchMlp(b, 1), TorchModels.Mlp)),
            ("infer-lenet5-b1", () => Infer("infer-lenet5-b1", "LeNet-5 forward", 1, b => new BenchLeNet5(b, 1), TorchModels.LeNet5)),
            ("infer-lenet-seed-b64", () => Infer("infer-lenet-seed-b64", "lenet-seed forward", 64, b => new BenchLeNetSeed(b, 1), TorchModels.LeNetSeed)),
        ];

        // Entry point for the run-time compiler (src/Graph.Jit): add `jit-mlp`, `jit-lenet-seed` (training steps of the
        // JIT-compiled models, e.g. Train("jit-mlp", ..., b => <jit-compiled BenchMlp graph>(b), TorchModels.Mlp, ...),
        // which reuses ModelWorkload with any ISupervisedModel<int>) and `jit-compile-lenet-seed` (an IWorkload whose
        // RunGraph compiles the model and whose RunTorch is e.g. torch.jit.trace, or FlopsPerRun 0 and a no-op) by
        // implementing this partial method in a new file Workloads/JitWorkloads.cs (plus a ProjectReference to
        // src/Graph.Jit in Graph.Benchmarks.csproj). Without an implementation the call compiles away.
        AddJitWorkloads(all);
        return all;
    }

    /// <summary>Appends the JIT workloads (implemented in Workloads/JitWorkloads.cs once src/Graph.Jit exists).</summary>
    static partial void AddJitWorkloads(List<(string Name, Func<IWorkload> Create)> workloads);

    /// <summary>A training step of a classifier (int labels) or a regressor (float targets).</summary>
    public static IWorkload Train<TLabel>(string name, string what, int batch, Func<int, Graph.Runtime.Models.ISupervisedModel<TLabel>> graph,
        Func<TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>> torchModel, TorchLoss loss, OptimizerSpec optimizer)
        where TLabel : unmanaged =>
        new ModelWorkload<TLabel>(name, $"train step: {what}, batch {batch}, {optimizer}", ModelRun.TrainStep, batch, graph, torchModel, loss, optimizer);

    /// <summary>A forward pass of a classifier.</summary>
    public static IWorkload Infer(string name, string what, int batch, Func<int, Graph.Runtime.Models.ISupervisedModel<int>> graph,
        Func<TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>> torchModel) =>
        new ModelWorkload<int>(name, $"inference: {what}, batch {batch}", ModelRun.Inference, batch, graph, torchModel,
            TorchLoss.CrossEntropy, OptimizerSpec.Sgd(0.01));
}
