using System;
using Graph.Runtime.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Graph.Benchmarks.Workloads;

/// <summary>C = A·B for row-major fp32 matrices (m×k times k×n): Graph's <see cref="Gemm"/> against torch.mm.</summary>
public sealed class GemmWorkload(int m, int n, int k) : IWorkload
{
    private float[] _a = [], _b = [], _c = [];
    private Tensor? _torchA, _torchB, _torchC;

    /// <summary>A square n×n×n product.</summary>
    public GemmWorkload(int size) : this(size, size, size) { }

    public string Name => m == n && n == k ? $"gemm{n}" : m == 1 ? $"matvec{n}" : $"gemm{m}x{n}x{k}";
    public string Description => $"fp32 C[{m}×{n}] = A[{m}×{k}]·B[{k}×{n}]";
    public double FlopsPerRun => 2.0 * m * n * k;

    public void Setup()
    {
        var random = new Random(42);
        _a = RandomArray(random, m * k);
        _b = RandomArray(random, k * n);
        _c = new float[m * n];
        _torchA = torch.tensor(_a, [m, k]);
        _torchB = torch.tensor(_b, [k, n]);
    }

    public void RunGraph() => Gemm.Multiply(Transpose.None, Transpose.None, m, n, k, _a, k, _b, n, _c, n);

    public void RunTorch()
    {
        _torchC?.Dispose();
        _torchC = torch.mm(_torchA!, _torchB!);
    }

    public double MaxDifference() => Compare.MaxDifference(_c, _torchC!);

    public void Dispose()
    {
        _torchA?.Dispose();
        _torchB?.Dispose();
        _torchC?.Dispose();
    }

    internal static float[] RandomArray(Random random, int length)
    {
        var values = new float[length];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }
}

/// <summary>Helpers shared by the workloads.</summary>
internal static class Compare
{
    public static double MaxDifference(float[] graph, Tensor torchResult)
    {
        float[] torchValues = torchResult.contiguous().data<float>().ToArray();
        double max = 0;
        for (int i = 0; i < graph.Length; i++) max = Math.Max(max, Math.Abs(graph[i] - torchValues[i]));
        return max;
    }
}
