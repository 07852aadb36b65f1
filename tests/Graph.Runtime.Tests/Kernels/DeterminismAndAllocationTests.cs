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
    public static TheoryData<KernelIsa, Transpose, bool> NarrowCases()
    {
        var cases = new TheoryData<KernelIsa, Transpose, bool>();
        foreach (object[] isa in SupportedIsas())
            foreach (Transpose transA in new[] { Transpose.None, Transpose.Transposed })
                foreach (bool accumulate in new[] { false, true })
                    cases.Add((KernelIsa)isa[0], transA, accumulate);
        return cases;
    }

    [Theory]
    [MemberData(nameof(NarrowCases))]
    public void NarrowGemmIsBitIdenticalToTheSameColumnsOfAWiderProduct(KernelIsa isa, Transpose transA, bool accumulate)
    {
        // C = op(A)·B with 10 columns takes the narrow path (or, on the scalar path, the transposed one); the same columns
        // as part of a 40-column product take the packed one. Each element's sum must be formed in the same order
        // (k spans two cache blocks).
        const int m = 150, narrow = 10, wide = 40, k = 300;
        float[] a = Random(m * k, 1), wideB = Random(k * wide, 2), start = Random(m * wide, 3);
        int lda = transA == Transpose.None ? k : m;
        var narrowB = new float[k * narrow];
        for (int p = 0; p < k; p++) Array.Copy(wideB, p * wide, narrowB, p * narrow, narrow);
        float[] wideC = (float[])start.Clone(), narrowC = new float[m * narrow];
        for (int i = 0; i < m; i++) Array.Copy(start, i * wide, narrowC, i * narrow, narrow);
        WithIsa(isa, () =>
        {
            Gemm.Multiply(transA, Transpose.None, m, wide, k, a, lda, wideB, wide, wideC, wide, accumulate);
            Gemm.Multiply(transA, Transpose.None, m, narrow, k, a, lda, narrowB, narrow, narrowC, narrow, accumulate);
        });
        for (int i = 0; i < m; i++)
            for (int j = 0; j < narrow; j++) Assert.Equal(wideC[i * wide + j], narrowC[i * narrow + j]);
    }

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
        // Large enough to be split across threads; k spans several cache blocks. 10 columns take the narrow path.
        const int m = 301, k = 600;
        float[] a = Random(m * k, 1), b = Random(k * n, 2);
        float[] Run(int threads, Transpose transB)
        {
            var c = new float[m * n];
            WithThreads(threads, () => Gemm.Multiply(Transpose.None, transB, m, n, k, a, k, b, transB == Transpose.None ? n : k, c, n));
            return c;
        }
        foreach (Transpose transB in new[] { Transpose.None, Transpose.Transposed })
        {
            float[] reference = Run(1, transB);
            Assert.Equal(reference, Run(1, transB));
            Assert.Equal(reference, Run(2, transB));
            Assert.Equal(reference, Run(2, transB));
            Assert.Equal(reference, Run(3, transB));
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
    [InlineData(Conv2dAlgorithm.Im2ColGemm, 3, 28, 8, 2)]
    [InlineData(Conv2dAlgorithm.Direct, 3, 28, 8, 2)]
    [InlineData(Conv2dAlgorithm.Direct, 3, 28, 8, 0)]   // the scattered input gradient
    [InlineData(Conv2dAlgorithm.Direct, 6, 14, 16, 0)]  // and the filter gradient over output channels
    public void ConvolutionPassesAreBitIdenticalRunToRun(Conv2dAlgorithm algorithm, int channels, int size, int outChannels, int pad)
    {
        var s = new Conv2dShape(channels, size, size, outChannels, 5, 5, 1, 1, pad, pad);
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
    public void SteadyStateKernelCallsAllocateNothing()
    {
        float[] a = Random(300 * 400, 1), b = Random(400 * 350, 2), c = new float[300 * 350], bias = Random(350, 3);
        float[] x = Random(400, 4), y = new float[350];
        var s = new Conv2dShape(3, 20, 20, 6, 5, 5, 1, 1, 2, 2);
        const int batch = 4;
        float[] image = Random(batch * s.InputImageLength, 5), weights = Random(s.WeightsLength, 6);
        float[] output = new float[batch * s.OutputImageLength], gradInput = new float[image.Length], gradWeights = new float[weights.Length];
        // Room for both convolution algorithms, each forced below.
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
            foreach (var algorithm in (ReadOnlySpan<Conv2dAlgorithm>)[Conv2dAlgorithm.Im2ColGemm, Conv2dAlgorithm.Direct])
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
