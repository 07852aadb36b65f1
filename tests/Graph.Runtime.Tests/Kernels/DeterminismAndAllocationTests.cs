using System;
using System.Linq;
using Graph.Runtime.Kernels;
using static Graph.Runtime.Tests.Kernels.KernelTestData;

namespace Graph.Runtime.Tests.Kernels;

/// <summary>Tests that change <see cref="WorkerPool.ThreadCount"/> or need the pool to themselves run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WorkerPoolCollection
{
    public const string Name = "Worker pool (runs alone)";
}

[Collection(WorkerPoolCollection.Name)]
public class DeterminismAndAllocationTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FewRowGemmIsBitIdenticalToTheSameRowsOfATallerProduct(bool accumulate)
    {
        // 6 rows take the 6×64 tile under AVX-512, 12 rows the 12×32 one; the shared rows must agree bit for bit.
        const int few = 6, tall = 12, n = 100, k = 300;
        float[] tallA = Random(tall * k, 1), b = Random(k * n, 2), start = Random(tall * n, 3);
        float[] tallC = (float[])start.Clone(), fewC = start[..(few * n)];
        Gemm.Multiply(Transpose.None, Transpose.None, tall, n, k, tallA, k, b, n, tallC, n, accumulate);
        Gemm.Multiply(Transpose.None, Transpose.None, few, n, k, tallA[..(few * k)], k, b, n, fewC, n, accumulate);
        for (int i = 0; i < few * n; i++) Assert.Equal(tallC[i], fewC[i]);
    }

    [Theory]
    [InlineData(283)]
    [InlineData(10)]
    public void GemmIsBitIdenticalRunToRunAndForAnyThreadCount(int n)
    {
        // Large enough to be split across threads; k spans several cache blocks. 10 columns take the narrow path: its dot
        // form with A stored as is, its column-vector form with A stored transposed (m not a whole number of blocks).
        const int m = 301, k = 600;
        float[] a = Random(m * k, 1), b = Random(k * n, 2);
        foreach (Transpose transA in new[] { Transpose.None, Transpose.Transposed })
            foreach (Transpose transB in new[] { Transpose.None, Transpose.Transposed })
            {
                float[] Run(int threads)
                {
                    var c = new float[m * n];
                    WithThreads(threads, () => Gemm.Multiply(transA, transB, m, n, k, a, transA == Transpose.None ? k : m,
                        b, transB == Transpose.None ? n : k, c, n));
                    return c;
                }
                float[] reference = Run(1);
                Assert.Equal(reference, Run(1));
                Assert.Equal(reference, Run(2));
                Assert.Equal(reference, Run(2));
                Assert.Equal(reference, Run(3));
            }
    }

    [Fact]
    public void MatrixVectorIsBitIdenticalForAnyThreadCount()
    {
        const int n = 5000, k = 700;
        float[] x = Random(k, 3), weights = Random(k * n, 4);
        float[] Run(int threads)
        {
            var y = new float[n];
            WithThreads(threads, () => Gemm.Multiply(Transpose.None, Transpose.None, 1, n, k, x, k, weights, n, y, n));
            return y;
        }
        float[] reference = Run(1);
        Assert.Equal(reference, Run(2));
        Assert.Equal(reference, Run(2));
    }

    [Theory]
    [InlineData(Conv2dAlgorithm.Im2ColGemm, 3, 28, 28, 8, 5, 2)]
    [InlineData(Conv2dAlgorithm.Direct, 3, 28, 28, 8, 5, 2)]
    [InlineData(Conv2dAlgorithm.Direct, 3, 28, 28, 8, 5, 0)]    // the scattered input gradient
    [InlineData(Conv2dAlgorithm.Direct, 6, 14, 14, 16, 5, 0)]   // and the filter gradient over output channels
    [InlineData(Conv2dAlgorithm.Winograd, 17, 15, 13, 40, 3, 1)] // Winograd takes 3×3 kernels only
    public void ConvolutionPassesAreBitIdenticalRunToRun(Conv2dAlgorithm algorithm, int channels, int height, int width, int outChannels, int kernel, int pad)
    {
        var s = new Conv2dShape(channels, height, width, outChannels, kernel, kernel, 1, 1, pad, pad);
        const int batch = 8;
        float[] input = Random(batch * s.InputImageLength, 5), weights = Random(s.WeightsLength, 6);
        float[] gradOutput = Random(batch * s.OutputImageLength, 7);
        var workspace = new float[WithAlgorithm(algorithm, () => Conv2d.WorkspaceLength(s, batch))];
        (float[] Output, float[] GradInput, float[] GradWeights) Run()
        {
            var output = new float[gradOutput.Length];
            var gradInput = new float[input.Length];
            var gradWeights = new float[weights.Length];
            WithAlgorithm(algorithm, () =>
            {
                Conv2d.Forward(s, batch, input, weights, output, workspace);
                Conv2d.BackwardInput(s, batch, gradOutput, weights, gradInput, workspace);
                Conv2d.BackwardFilter(s, batch, input, gradOutput, gradWeights, workspace, accumulate: false);
            });
            return (output, gradInput, gradWeights);
        }
        var first = Run();
        var second = Run();
        Assert.Equal(first.Output, second.Output);
        Assert.Equal(first.GradInput, second.GradInput);
        Assert.Equal(first.GradWeights, second.GradWeights);

        // Forward and input gradients split over images, so they do not depend on the thread count either.
        (float[] Output, float[] GradInput, float[] GradWeights) single = default;
        WithThreads(1, () => single = Run());
        Assert.Equal(first.Output, single.Output);
        Assert.Equal(first.GradInput, single.GradInput);
    }

    [Fact]
    public void WinogradOnOneImageSplitsItsProductsWithoutChangingResults()
    {
        // One image: a single part, whose products (128 tiles × 128 × 128 per point) are split across the pool.
        var s = new Conv2dShape(128, 28, 28, 128, 3, 3, 1, 1, 1, 1);
        float[] input = Random(s.InputImageLength, 10), weights = Random(s.WeightsLength, 11), gradOutput = Random(s.OutputImageLength, 12);
        (float[] Output, float[] GradInput, float[] GradWeights) Run(int threads)
        {
            var output = new float[gradOutput.Length];
            var gradInput = new float[input.Length];
            var gradWeights = new float[weights.Length];
            WithThreads(threads, () => WithAlgorithm(Conv2dAlgorithm.Winograd, () =>
            {
                var workspace = new float[Conv2d.WorkspaceLength(s, 1)];
                Conv2d.Forward(s, 1, input, weights, output, workspace);
                Conv2d.BackwardInput(s, 1, gradOutput, weights, gradInput, workspace);
                Conv2d.BackwardFilter(s, 1, input, gradOutput, gradWeights, workspace, accumulate: false);
            }));
            return (output, gradInput, gradWeights);
        }
        var single = Run(1);
        var split = Run(2);
        Assert.Equal(single.Output, split.Output);
        Assert.Equal(single.GradInput, split.GradInput);
        Assert.Equal(single.GradWeights, split.GradWeights);
    }

    [Fact]
    public void SteadyStateKernelCallsAllocateNothing()
    {
        float[] a = Random(300 * 400, 1), b = Random(400 * 350, 2), c = new float[300 * 350], bias = Random(350, 3);
        float[] x = Random(400, 4), y = new float[350];
        var s = new Conv2dShape(3, 20, 20, 6, 3, 3, 1, 1, 1, 1);
        const int batch = 4;
        float[] image = Random(batch * s.InputImageLength, 5), weights = Random(s.WeightsLength, 6);
        float[] output = new float[batch * s.OutputImageLength], gradInput = new float[image.Length], gradWeights = new float[weights.Length];
        // Room for every convolution algorithm, each forced below.
        float[] workspace = new float[Enum.GetValues<Conv2dAlgorithm>().Max(a => WithAlgorithm(a, () => Conv2d.WorkspaceLength(s, batch)))];
        var pool = new Pool2dShape(6, 20, 20, 2, 2, 2, 2);
        float[] pooled = new float[batch * pool.OutputImageLength], rowResults = new float[300];

        void Step()
        {
            Gemm.Multiply(Transpose.None, Transpose.None, 300, 350, 400, a, 400, b, 350, c, 350, false, new BiasColumnsReluEpilogue(bias));
            Gemm.Multiply(Transpose.Transposed, Transpose.None, 300, 350, 40, a, 300, b, 350, c, 350, true, new NoEpilogue());
            Gemm.Multiply(Transpose.None, Transpose.Transposed, 30, 35, 40, a, 40, b, 40, c, 35, false, new NoEpilogue());
            Gemm.Multiply(Transpose.None, Transpose.None, 300, 10, 400, a, 400, b, 10, c, 10, false, new BiasColumnsReluEpilogue(bias));
            Gemm.Multiply(Transpose.None, Transpose.None, 1, 350, 400, x, 400, b, 350, y, 350, false, new BiasColumnsEpilogue(bias));
            // Set directly: a closure for WithAlgorithm would itself allocate.
            foreach (var algorithm in (ReadOnlySpan<Conv2dAlgorithm>)[Conv2dAlgorithm.Im2ColGemm, Conv2dAlgorithm.Direct, Conv2dAlgorithm.Winograd])
            {
                Conv2d.ForcedAlgorithmOnThisThread = algorithm;
                Conv2d.Forward(s, batch, image, weights, output, workspace, new BiasRowsReluEpilogue(bias));
                Conv2d.BackwardInput(s, batch, output, weights, gradInput, workspace);
                Conv2d.BackwardFilter(s, batch, image, output, gradWeights, workspace, accumulate: false);
            }
            Conv2d.ForcedAlgorithmOnThisThread = null;
            Pool2d.MaxForward(pool, batch, output, pooled);
            Pool2d.MaxBackward(pool, batch, output, pooled, output);
            Pool2d.AvgForward(pool, batch, output, pooled);
            Reduce.LogSumExpRows(c, 300, 350, rowResults);
            Reduce.SumColumns(c, 300, 350, y, accumulate: true);
        }

        foreach (int threads in new[] { 1, 2 })
        {
            WithThreads(threads, () =>
            {
                Step();
                Step();
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 5; i++) Step();
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            });
        }
    }

    [Fact]
    public void ExceptionInAWorkerReachesTheCallerAndThePoolKeepsWorking()
    {
        const int m = 240, n = 256, k = 64;
        float[] a = Random(m * k, 8), b = Random(k * n, 9);
        var c = new float[m * n];
        WithThreads(2, () =>
        {
            // Rows are split across threads; the last row belongs to the worker's part.
            Assert.Throws<InvalidOperationException>(() =>
                Gemm.Multiply(Transpose.None, Transpose.None, m, n, k, a, k, b, n, c, n, false, new ThrowingEpilogue(m - 1)));
            var (product, scale) = ReferenceKernels.Gemm(Transpose.None, Transpose.None, m, n, k, a, k, b, n);
            Gemm.Multiply(Transpose.None, Transpose.None, m, n, k, a, k, b, n, c, n);
            for (int i = 0; i < c.Length; i++) AssertClose(product[i], scale[i], c[i], $"element {i}");
        });
    }

    private readonly struct ThrowingEpilogue(int failingRow) : IEpilogue
    {
        public void Apply(Span<float> values, int row, int col)
        {
            if (row == failingRow) throw new InvalidOperationException("epilogue failure");
        }
    }

    private static void WithThreads(int threads, Action action)
    {
        int previous = WorkerPool.ThreadCount;
        WorkerPool.SetThreadCount(threads);
        try { action(); }
        finally { WorkerPool.SetThreadCount(previous); }
    }
}
