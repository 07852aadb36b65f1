using System;
using System.Runtime.CompilerServices;

namespace Graph.Runtime.Kernels;

/// <summary>
/// The GEMM fast path for m == 1 or n == 1 (batch-1 inference, bias-free projections): memory-bound, so it
/// streams the matrix once instead of packing it. Work is split over output elements only, so each output's
/// sum is formed in the same order whatever the thread count.
/// </summary>
internal static unsafe class MatrixVector
{
    /// <summary>
    /// <c>y[l] = Σ_p M[l, p] · x[p]</c> (or <c>+=</c> when accumulating) for <c>l &lt; length</c>, where
    /// <c>M[l, p] = matrix[l·ld + p]</c> when <paramref name="rowsContiguous"/> (a dot product per output), and
    /// <c>matrix[p·ld + l]</c> otherwise (a scaled row added per k step).
    /// </summary>
    internal struct Problem
    {
        public int Length, K;
        public float* Matrix;
        public nint Ld;
        public bool RowsContiguous;
        public float* X;
        public nint XStride;
        public float* Y;
        public nint YStride;
        public bool Accumulate;
        /// <summary>True when y is a row of C (m == 1): the epilogue sees (0, l); otherwise a column: (l, 0).</summary>
        public bool OutputIsRow;
    }

    // Below this many multiply-adds a second thread costs more to wake than it saves.
    private const long ParallelThreshold = 1 << 18;

    // Columns of y updated together in the scaled-row form: small enough to stay in L1 across all k steps.
    private const int AxpyChunk = 2048;

    public static void Multiply<TEpilogue>(Problem problem, in TEpilogue epilogue, bool allowParallel)
        where TEpilogue : struct, IEpilogue
    {
        int parts = allowParallel && (long)problem.Length * problem.K >= ParallelThreshold
            ? Math.Min(WorkerPool.ThreadCount, (problem.Length + 63) / 64)
            : 1;
        KernelIsa isa = KernelIsaSelector.Current;
        if (parts <= 1)
        {
            Compute(isa, problem, epilogue, 0, problem.Length);
            return;
        }
        var job = MatrixVectorJob<TEpilogue>.ForCurrentThread;
        job.Set(isa, problem, epilogue);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    internal static void Compute<TEpilogue>(KernelIsa isa, in Problem problem, in TEpilogue epilogue, int start, int end)
        where TEpilogue : struct, IEpilogue
    {
        switch (isa)
        {
            case KernelIsa.Avx512: Compute<Simd512, System.Runtime.Intrinsics.Vector512<float>, TEpilogue>(problem, epilogue, start, end); break;
            case KernelIsa.Avx2: Compute<Simd256, System.Runtime.Intrinsics.Vector256<float>, TEpilogue>(problem, epilogue, start, end); break;
            case KernelIsa.Vector: Compute<SimdPortable, System.Numerics.Vector<float>, TEpilogue>(problem, epilogue, start, end); break;
            default: Compute<SimdScalar, float, TEpilogue>(problem, epilogue, start, end); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Compute<TSimd, TVector, TEpilogue>(in Problem problem, in TEpilogue epilogue, int start, int end)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TEpilogue : struct, IEpilogue
    {
        TEpilogue finish = epilogue;
        if (problem.RowsContiguous)
        {
            float* x = ContiguousX(problem);
            for (int l = start; l < end; l++)
            {
                float sum = Dot<TSimd, TVector>(problem.Matrix + l * problem.Ld, x, problem.K);
                float* y = problem.Y + l * problem.YStride;
                *y = problem.Accumulate ? *y + sum : sum;
                if (!problem.OutputIsRow) finish.Apply(new Span<float>(y, 1), l, 0);
            }
            if (problem.OutputIsRow) finish.Apply(new Span<float>(problem.Y + start, end - start), 0, start);
            return;
        }

        // Scaled-row form: y is contiguous when it is a row of C; a strided column goes through scratch.
        bool stridedY = problem.YStride != 1;
        float* scratch = stridedY ? KernelScratch.Current.Get(Math.Min(AxpyChunk, end - start)) : null;
        for (int chunkStart = start; chunkStart < end; chunkStart += AxpyChunk)
        {
            int count = Math.Min(AxpyChunk, end - chunkStart);
            float* y = stridedY ? scratch : problem.Y + chunkStart;
            if (stridedY || !problem.Accumulate) new Span<float>(y, count).Clear();
            for (int p = 0; p < problem.K; p++)
                AddScaled<TSimd, TVector>(problem.Matrix + p * problem.Ld + chunkStart, problem.X[p * problem.XStride], y, count);
            if (stridedY)
            {
                for (int i = 0; i < count; i++)
                {
                    float* target = problem.Y + (chunkStart + i) * problem.YStride;
                    *target = problem.Accumulate ? *target + y[i] : y[i];
                    finish.Apply(new Span<float>(target, 1), chunkStart + i, 0);
                }
            }
            else finish.Apply(new Span<float>(y, count), 0, chunkStart);
        }
    }

    /// <summary>x as a contiguous vector: itself, or a copy in this thread's scratch.</summary>
    private static float* ContiguousX(in Problem problem)
    {
        if (problem.XStride == 1) return problem.X;
        float* copy = KernelScratch.Current.Get(problem.K);
        for (int p = 0; p < problem.K; p++) copy[p] = problem.X[p * problem.XStride];
        return copy;
    }

    private static float Dot<TSimd, TVector>(float* row, float* x, int k)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        // Four independent accumulators hide the FMA latency.
        int width = TSimd.Count, p = 0;
        TVector sum0 = TSimd.Zero, sum1 = TSimd.Zero, sum2 = TSimd.Zero, sum3 = TSimd.Zero;
        for (; p <= k - 4 * width; p += 4 * width)
        {
            sum0 = TSimd.MultiplyAdd(TSimd.Load(row + p), TSimd.Load(x + p), sum0);
            sum1 = TSimd.MultiplyAdd(TSimd.Load(row + p + width), TSimd.Load(x + p + width), sum1);
            sum2 = TSimd.MultiplyAdd(TSimd.Load(row + p + 2 * width), TSimd.Load(x + p + 2 * width), sum2);
            sum3 = TSimd.MultiplyAdd(TSimd.Load(row + p + 3 * width), TSimd.Load(x + p + 3 * width), sum3);
        }
        for (; p <= k - width; p += width) sum0 = TSimd.MultiplyAdd(TSimd.Load(row + p), TSimd.Load(x + p), sum0);
        float total = TSimd.Sum(TSimd.Add(TSimd.Add(sum0, sum1), TSimd.Add(sum2, sum3)));
        for (; p < k; p++) total += row[p] * x[p];
        return total;
    }

    private static void AddScaled<TSimd, TVector>(float* row, float scale, float* y, int count)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        int width = TSimd.Count, i = 0;
        TVector factor = TSimd.Broadcast(scale);
        for (; i <= count - width; i += width)
            TSimd.Store(TSimd.MultiplyAdd(TSimd.Load(row + i), factor, TSimd.Load(y + i)), y + i);
        for (; i < count; i++) y[i] += row[i] * scale;
    }

    private sealed class MatrixVectorJob<TEpilogue> : ParallelJob where TEpilogue : struct, IEpilogue
    {
        [ThreadStatic] private static MatrixVectorJob<TEpilogue>? t_instance;

        private KernelIsa _isa;
        private Problem _problem;
        private TEpilogue _epilogue;

        public static MatrixVectorJob<TEpilogue> ForCurrentThread => t_instance ??= new MatrixVectorJob<TEpilogue>();

        public void Set(KernelIsa isa, in Problem problem, in TEpilogue epilogue)
        {
            _isa = isa;
            _problem = problem;
            _epilogue = epilogue;
        }

        public void Clear() => _epilogue = default;

        public override void Execute(int part, int partCount)
        {
            // Fixed split of the outputs in multiples of 64 (whole cache lines of y).
            int blocks = (_problem.Length + 63) / 64;
            int start = Math.Min(_problem.Length, (int)((long)blocks * part / partCount) * 64);
            int end = Math.Min(_problem.Length, (int)((long)blocks * (part + 1) / partCount) * 64);
            if (start < end) Compute(_isa, _problem, _epilogue, start, end);
        }
    }
}
