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

    public static void Multiply<TEpilogue>(Problem problem, in TEpilogue epilogue, KernelIsa isa, bool allowParallel)
        where TEpilogue : struct, IEpilogue
    {
        int parts = allowParallel && (long)problem.Length * problem.K >= ParallelThreshold
            ? Math.Min(WorkerPool.ThreadCount, (problem.Length + 63) / 64)
            : 1;
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

        // Scaled-row form: a block of up to eight vectors of outputs stays in registers while the k rows stream past
        // (eight independent FMA chains in flight; each output's sum is still one chain over k, in order, whichever
        // block computes it). The last block takes whatever is left, its last vector partial, in the same single pass
        // over the matrix: 120 outputs are one block of 7.5 vectors, not a block of 4, three of 1 and a partial one,
        // each a latency-bound pass over k.
        if (problem.Length <= 2 * TSimd.Count)
        {
            // Never split across threads (see Multiply), so [start, end) is the whole product.
            if ((end - start) % TSimd.Count == 0) SplitChainBlock<TSimd, TVector, TEpilogue, WholeVectors>(problem, ref finish, start, end - start);
            else SplitChainBlock<TSimd, TVector, TEpilogue, PartialLastVector>(problem, ref finish, start, end - start);
            return;
        }
        int block = 8 * TSimd.Count;
        for (int output = start; output < end; output += block)
        {
            int count = Math.Min(block, end - output);
            if (count % TSimd.Count == 0) ColumnBlock<TSimd, TVector, TEpilogue, WholeVectors>(problem, ref finish, output, count);
            else ColumnBlock<TSimd, TVector, TEpilogue, PartialLastVector>(problem, ref finish, output, count);
        }
    }

    /// <summary>Outputs [first, first + count) of the scaled-row form (count ≤ 8 vectors), accumulated in registers.</summary>
    private static void ColumnBlock<TSimd, TVector, TEpilogue, TTail>(in Problem problem, ref TEpilogue finish, int first, int count)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TEpilogue : struct, IEpilogue where TTail : struct, IBlockTail
    {
        int width = TSimd.Count;
        int vectors = (count + width - 1) / width, last = count - (vectors - 1) * width;
        TVector sum0 = TSimd.Zero, sum1 = TSimd.Zero, sum2 = TSimd.Zero, sum3 = TSimd.Zero;
        TVector sum4 = TSimd.Zero, sum5 = TSimd.Zero, sum6 = TSimd.Zero, sum7 = TSimd.Zero;
        // Locals, so that the loop keeps them in registers instead of re-reading the problem each step.
        float* column = problem.Matrix + first, x = problem.X;
        nint ld = problem.Ld, xStride = problem.XStride;
        for (int p = 0; p < problem.K; p++, column += ld, x += xStride)
        {
            TVector scale = TSimd.Broadcast(*x);
            // The branches are loop-invariant (perfectly predicted); vector `vectors − 1` reads only its `last` lanes.
            sum0 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 0, vectors, last), scale, sum0);
            if (vectors > 1) sum1 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 1, vectors, last), scale, sum1);
            if (vectors > 2) sum2 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 2, vectors, last), scale, sum2);
            if (vectors > 3) sum3 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 3, vectors, last), scale, sum3);
            if (vectors > 4) sum4 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 4, vectors, last), scale, sum4);
            if (vectors > 5) sum5 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 5, vectors, last), scale, sum5);
            if (vectors > 6) sum6 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 6, vectors, last), scale, sum6);
            if (vectors > 7) sum7 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 7, vectors, last), scale, sum7);
        }
        // Spill to the stack so contiguous and strided outputs share one finishing path (16 floats: the widest vector).
        float* sums = stackalloc float[8 * 16];
        TSimd.Store(sum0, sums);
        if (vectors > 1) TSimd.Store(sum1, sums + width);
        if (vectors > 2) TSimd.Store(sum2, sums + 2 * width);
        if (vectors > 3) TSimd.Store(sum3, sums + 3 * width);
        if (vectors > 4) TSimd.Store(sum4, sums + 4 * width);
        if (vectors > 5) TSimd.Store(sum5, sums + 5 * width);
        if (vectors > 6) TSimd.Store(sum6, sums + 6 * width);
        if (vectors > 7) TSimd.Store(sum7, sums + 7 * width);
        Finish(problem, ref finish, first, count, sums);
    }

    /// <summary>
    /// The scaled-row form when the whole product has at most two vectors of outputs (a 10-class layer at batch 1): one
    /// chain per vector would wait out the FMA latency at every k step, so each vector's sum is four chains over the k
    /// steps p ≡ 0, 1, 2, 3 (mod 4), the steps past the last multiple of four added to the first, combined as
    /// (c0 + c1) + (c2 + c3).
    /// </summary>
    private static void SplitChainBlock<TSimd, TVector, TEpilogue, TTail>(in Problem problem, ref TEpilogue finish, int first, int count)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TEpilogue : struct, IEpilogue where TTail : struct, IBlockTail
    {
        int width = TSimd.Count;
        int vectors = (count + width - 1) / width, last = count - (vectors - 1) * width;
        bool two = vectors > 1;
        TVector a0 = TSimd.Zero, a1 = TSimd.Zero, a2 = TSimd.Zero, a3 = TSimd.Zero;
        TVector b0 = TSimd.Zero, b1 = TSimd.Zero, b2 = TSimd.Zero, b3 = TSimd.Zero;
        float* column = problem.Matrix + first, x = problem.X;
        nint ld = problem.Ld, xStride = problem.XStride;
        int p = 0;
        for (; p <= problem.K - 4; p += 4, column += 4 * ld, x += 4 * xStride)
        {
            TVector x0 = TSimd.Broadcast(x[0]), x1 = TSimd.Broadcast(x[xStride]);
            TVector x2 = TSimd.Broadcast(x[2 * xStride]), x3 = TSimd.Broadcast(x[3 * xStride]);
            a0 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 0, vectors, last), x0, a0);
            a1 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column + ld, 0, vectors, last), x1, a1);
            a2 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column + 2 * ld, 0, vectors, last), x2, a2);
            a3 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column + 3 * ld, 0, vectors, last), x3, a3);
            if (two)
            {
                b0 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 1, vectors, last), x0, b0);
                b1 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column + ld, 1, vectors, last), x1, b1);
                b2 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column + 2 * ld, 1, vectors, last), x2, b2);
                b3 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column + 3 * ld, 1, vectors, last), x3, b3);
            }
        }
        for (; p < problem.K; p++, column += ld, x += xStride)
        {
            TVector scale = TSimd.Broadcast(*x);
            a0 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 0, vectors, last), scale, a0);
            if (two) b0 = TSimd.MultiplyAdd(Lanes<TSimd, TVector, TTail>(column, 1, vectors, last), scale, b0);
        }
        float* sums = stackalloc float[2 * 16];
        TSimd.Store(TSimd.Add(TSimd.Add(a0, a1), TSimd.Add(a2, a3)), sums);
        if (two) TSimd.Store(TSimd.Add(TSimd.Add(b0, b1), TSimd.Add(b2, b3)), sums + width);
        Finish(problem, ref finish, first, count, sums);
    }

    /// <summary>Vector <paramref name="index"/> of a block row: whole, or its first <paramref name="last"/> lanes if it is the block's last.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector Lanes<TSimd, TVector, TTail>(float* row, int index, int vectors, int last)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TTail : struct, IBlockTail =>
        TTail.LastIsPartial && index == vectors - 1
            ? TSimd.LoadFirst(row + index * TSimd.Count, last)
            : TSimd.Load(row + index * TSimd.Count);

    /// <summary>Writes (or adds) finished sums for outputs [first, first + count) and applies the epilogue.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish<TEpilogue>(in Problem problem, ref TEpilogue finish, int first, int count, float* sums)
        where TEpilogue : struct, IEpilogue
    {
        for (int i = 0; i < count; i++)
        {
            float* y = problem.Y + (first + i) * problem.YStride;
            *y = problem.Accumulate ? *y + sums[i] : sums[i];
            if (!problem.OutputIsRow) finish.Apply(new Span<float>(y, 1), first + i, 0);
        }
        if (problem.OutputIsRow) finish.Apply(new Span<float>(problem.Y + first, count), 0, first);
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
