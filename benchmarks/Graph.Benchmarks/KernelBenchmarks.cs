using BenchmarkDotNet.Attributes;
using Graph.Benchmarks.Workloads;
using Graph.Runtime.Kernels;
using TorchSharp;

namespace Graph.Benchmarks;

/// <summary>Square fp32 GEMM: Graph against torch.mm, on the same number of threads.</summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private GemmWorkload _workload = null!;

    [Params(256, 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(WorkerPool.ThreadCount);
        _workload = new GemmWorkload(Size);
        _workload.Setup();
    }

    [GlobalCleanup]
    public void Cleanup() => _workload.Dispose();

    [Benchmark]
    public void Graph() => _workload.RunGraph();

    [Benchmark(Baseline = true)]
    public void Torch() => _workload.RunTorch();
}

/// <summary>LeNet-5's convolutions (forward with bias, batch 64): Graph against torch's conv2d.</summary>
[MemoryDiagnoser]
public class Conv2dBenchmarks
{
    private IWorkload _workload = null!;

    [Params("conv-lenet1", "conv-lenet2")]
    public string Layer { get; set; } = "conv-lenet2";

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(WorkerPool.ThreadCount);
        foreach (var (name, create) in WorkloadRegistry.All)
            if (name == Layer) _workload = create();
        _workload.Setup();
    }

    [GlobalCleanup]
    public void Cleanup() => _workload.Dispose();

    [Benchmark]
    public void Graph() => _workload.RunGraph();

    [Benchmark(Baseline = true)]
    public void Torch() => _workload.RunTorch();
}

/// <summary>
/// Training steps and forward passes of the generated [Model] classes (Models/BenchmarkModels.cs) against torch.nn +
/// torch.optim on the same data, optimizer and thread count (see <see cref="ModelWorkload{TLabel}"/>).
/// </summary>
[MemoryDiagnoser]
public abstract class ModelBenchmarksBase
{
    private IWorkload _workload = null!;

    /// <summary>The workload name (a <see cref="WorkloadRegistry"/> entry).</summary>
    public abstract string Workload { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(WorkerPool.ThreadCount);
        _workload = WorkloadRegistry.Create(Workload);
        _workload.Setup();
    }

    [GlobalCleanup]
    public void Cleanup() => _workload.Dispose();

    [Benchmark]
    public void Graph() => _workload.RunGraph();

    [Benchmark(Baseline = true)]
    public void Torch() => _workload.RunTorch();
}

/// <summary>The MLP 784-128-10: Adam training step at batch 64 and batch-1 inference.</summary>
public class MlpBenchmarks : ModelBenchmarksBase
{
    [Params("mlp", "infer-mlp-b1")]
    public override string Workload { get; set; } = "mlp";
}

/// <summary>Every other model workload (training steps and inference; long: filter with --filter '*ModelBenchmarks*').</summary>
public class ModelBenchmarks : ModelBenchmarksBase
{
    [Params("linreg", "softmax", "mlp-wide", "lenet5", "lenet-seed", "infer-lenet5-b1", "infer-lenet-seed-b64")]
    public override string Workload { get; set; } = "softmax";
}
