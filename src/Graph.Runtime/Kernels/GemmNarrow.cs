using System;
using System.Runtime.CompilerServices;

namespace Graph.Runtime.Kernels;

/// <summary>
/// GEMM for narrow products (N at most two vectors, e.g. a dense layer with 10 outputs, its weight gradient): each row
/// of C is one or two vectors accumulated in registers, <see cref="Rows"/> rows at a time, with A's elements broadcast
/// straight from where they are stored (either layout) instead of packed. Only op(B)'s k×N block is copied (zero-padded
/// to whole vectors), which for narrow products is a tiny fraction of the work, whereas the packed path copies all of
/// A and wastes most of its tile's columns.
/// Every element's sum is formed exactly as on the packed path: one multiply-add chain over each k block of
/// <c>kc</c> steps starting from zero, added to C block by block, so the choice of path never changes a result.
/// </summary>
internal static unsafe class GemmNarrow
{
    /// <summary>Rows of C per register block: eight independent chains per vector cover the FMA latency.</summary>
    public const int Rows = 8;

    /// <summary>Whether the narrow path takes a product of <paramref name="n"/> columns at this vector width.</summary>
    public static bool Handles(int n, int vectorWidth) => n <= 2 * vectorWidth;

    public static void Multiply<TSimd, TVector, TEpilogue>(in GemmProblem problem, in TEpilogue epilogue, int kc, bool allowParallel)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TEpilogue : struct, IEpilogue
    {
        int blocks = (problem.M + Rows - 1) / Rows;
        int parts = allowParallel && 2L * problem.M * problem.N * problem.K >= GemmParallelism.NarrowFlopThreshold
            ? Math.Min(WorkerPool.ThreadCount, blocks)
            : 1;
        if (parts <= 1)
        {
            Compute<TSimd, TVector, TEpilogue>(problem, epilogue, kc, 0, problem.M);
            return;
        }
        var job = NarrowJob<TSimd, TVector, TEpilogue>.ForCurrentThread;
        job.Set(problem, epilogue, kc);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>Computes and finishes rows [rowStart, rowEnd) of C.</summary>
    // AggressiveOptimization: see the tiering policy on IMicroKernel.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Compute<TSimd, TVector, TEpilogue>(in GemmProblem p, in TEpilogue epilogue, int kcMax, int rowStart, int rowEnd)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TEpilogue : struct, IEpilogue
    {
        int width = TSimd.Count, n = p.N;
        bool twoVectors = n > width;
        int stride = twoVectors ? 2 * width : width;
        kcMax = Math.Min(kcMax, p.K);
        float* packedB = KernelScratch.Current.Get((nint)kcMax * stride);
        // A[i, p] = a[i·lda + p] (stored as is) or a[p·lda + i] (stored transposed).
        bool aTransposed = p.TransA == Transpose.Transposed;
        nint rowStep = aTransposed ? 1 : p.Lda, kStep = aTransposed ? p.Lda : 1;
        TEpilogue finish = epilogue;

        for (int pc = 0; pc < p.K; pc += kcMax)
        {
            int kc = Math.Min(kcMax, p.K - pc);
            bool addToC = pc > 0 || p.Accumulate;
            PackB<TSimd, TVector>(p, pc, kc, stride, packedB);
            for (int i = rowStart; i < rowEnd; i += Rows)
            {
                int rows = Math.Min(Rows, rowEnd - i);
                var block = new RowBlock(p.A + i * rowStep + pc * kStep, rowStep, kStep, rows, kc, packedB, p.C + i * p.Ldc, p.Ldc, n, addToC);
                if (twoVectors) Block<TSimd, TVector, TwoVectors>(block);
                else Block<TSimd, TVector, OneVector>(block);
                if (pc + kc == p.K)
                    for (int r = 0; r < rows; r++) finish.Apply(new Span<float>(p.C + (i + r) * p.Ldc, n), i + r, 0);
            }
        }
    }

    /// <summary>op(B)[k0 .. k0+kc, 0 .. n) into rows of <paramref name="stride"/> floats, zero beyond n.</summary>
    private static void PackB<TSimd, TVector>(in GemmProblem p, int k0, int kc, int stride, float* packed)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        int n = p.N, width = TSimd.Count;
        if (p.TransB == Transpose.None)
        {
            for (int q = 0; q < kc; q++)
            {
                float* source = p.B + (k0 + q) * p.Ldb;
                float* destination = packed + q * stride;
                TSimd.Store(TSimd.LoadFirst(source, Math.Min(n, width)), destination);
                if (stride > width) TSimd.Store(TSimd.LoadFirst(source + width, n - width), destination + width);
            }
        }
        else
        {
            // B[q, j] = b[j·ldb + q]: each stored row is one column of the block.
            GemmPacking.TransposeBlock(p.B + k0, p.Ldb, packed, stride, n, kc);
            GemmPacking.ZeroTail(packed, stride, n, kc);
        }
    }

    /// <summary>
    /// One register block: up to <see cref="Rows"/> rows of C over one k block. Row r of A starts at A + r·RowStep and
    /// steps KStep per k step; B is the packed k block; row r of C is at C + r·Ldc with N columns, and the block's sums
    /// are added to it when AddToC, else stored.
    /// </summary>
    private readonly struct RowBlock(float* a, nint rowStep, nint kStep, int rows, int kc, float* b, float* c, nint ldc, int n, bool addToC)
    {
        public readonly float* A = a, B = b, C = c;
        public readonly nint RowStep = rowStep, KStep = kStep, Ldc = ldc;
        public readonly int Rows = rows, Kc = kc, N = n;
        public readonly bool AddToC = addToC;
    }

    /// <summary>
    /// C[r, j] (+)= Σ_q A[r, q]·B[q, j] over the block's kc steps, one or two vectors per row as
    /// <typeparamref name="TVectors"/> says. Missing rows repeat the last one, so the loop has no edge cases; their sums
    /// are never stored.
    /// </summary>
    // AggressiveOptimization: see the tiering policy on IMicroKernel.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<TSimd, TVector, TVectors>(in RowBlock block)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TVectors : struct, IVectorCount
    {
        int width = TSimd.Count, rows = block.Rows, kc = block.Kc;
        bool two = TVectors.IsTwo;
        int stride = two ? 2 * width : width;
        nint rowStep = block.RowStep, kStep = block.KStep;
        float* a = block.A, b = block.B;
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * rowStep, a2 = a + Math.Min(2, rows - 1) * rowStep;
        float* a3 = a + Math.Min(3, rows - 1) * rowStep, a4 = a + Math.Min(4, rows - 1) * rowStep;
        float* a5 = a + Math.Min(5, rows - 1) * rowStep, a6 = a + Math.Min(6, rows - 1) * rowStep;
        float* a7 = a + Math.Min(7, rows - 1) * rowStep;
        TVector c0 = TSimd.Zero, c1 = TSimd.Zero, c2 = TSimd.Zero, c3 = TSimd.Zero;
        TVector c4 = TSimd.Zero, c5 = TSimd.Zero, c6 = TSimd.Zero, c7 = TSimd.Zero;
        TVector d0 = TSimd.Zero, d1 = TSimd.Zero, d2 = TSimd.Zero, d3 = TSimd.Zero;
        TVector d4 = TSimd.Zero, d5 = TSimd.Zero, d6 = TSimd.Zero, d7 = TSimd.Zero;
        nint at = 0;
        for (int q = 0; q < kc; q++, at += kStep, b += stride)
        {
            TVector b0 = TSimd.Load(b);
            TVector x0 = TSimd.Broadcast(a0[at]), x1 = TSimd.Broadcast(a1[at]);
            TVector x2 = TSimd.Broadcast(a2[at]), x3 = TSimd.Broadcast(a3[at]);
            TVector x4 = TSimd.Broadcast(a4[at]), x5 = TSimd.Broadcast(a5[at]);
            TVector x6 = TSimd.Broadcast(a6[at]), x7 = TSimd.Broadcast(a7[at]);
            c0 = TSimd.MultiplyAdd(x0, b0, c0);
            c1 = TSimd.MultiplyAdd(x1, b0, c1);
            c2 = TSimd.MultiplyAdd(x2, b0, c2);
            c3 = TSimd.MultiplyAdd(x3, b0, c3);
            c4 = TSimd.MultiplyAdd(x4, b0, c4);
            c5 = TSimd.MultiplyAdd(x5, b0, c5);
            c6 = TSimd.MultiplyAdd(x6, b0, c6);
            c7 = TSimd.MultiplyAdd(x7, b0, c7);
            if (two)
            {
                TVector b1 = TSimd.Load(b + width);
                d0 = TSimd.MultiplyAdd(x0, b1, d0);
                d1 = TSimd.MultiplyAdd(x1, b1, d1);
                d2 = TSimd.MultiplyAdd(x2, b1, d2);
                d3 = TSimd.MultiplyAdd(x3, b1, d3);
                d4 = TSimd.MultiplyAdd(x4, b1, d4);
                d5 = TSimd.MultiplyAdd(x5, b1, d5);
                d6 = TSimd.MultiplyAdd(x6, b1, d6);
                d7 = TSimd.MultiplyAdd(x7, b1, d7);
            }
        }
        StoreRow<TSimd, TVector, TVectors>(block, 0, c0, d0);
        if (rows > 1) StoreRow<TSimd, TVector, TVectors>(block, 1, c1, d1);
        if (rows > 2) StoreRow<TSimd, TVector, TVectors>(block, 2, c2, d2);
        if (rows > 3) StoreRow<TSimd, TVector, TVectors>(block, 3, c3, d3);
        if (rows > 4) StoreRow<TSimd, TVector, TVectors>(block, 4, c4, d4);
        if (rows > 5) StoreRow<TSimd, TVector, TVectors>(block, 5, c5, d5);
        if (rows > 6) StoreRow<TSimd, TVector, TVectors>(block, 6, c6, d6);
        if (rows > 7) StoreRow<TSimd, TVector, TVectors>(block, 7, c7, d7);
    }

    /// <summary>Stores (or adds, C + sum) row <paramref name="r"/>'s first and second vectors, only its N columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TSimd, TVector, TVectors>(in RowBlock block, int r, TVector first, TVector second)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TVectors : struct, IVectorCount
    {
        int width = TSimd.Count;
        float* c = block.C + r * block.Ldc;
        if (TVectors.IsTwo)
        {
            StorePart<TSimd, TVector>(c, first, width, block.AddToC);
            StorePart<TSimd, TVector>(c + width, second, block.N - width, block.AddToC);
        }
        else StorePart<TSimd, TVector>(c, first, block.N, block.AddToC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePart<TSimd, TVector>(float* c, TVector sum, int count, bool addToC)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        if (addToC) sum = TSimd.Add(TSimd.LoadFirst(c, count), sum);
        TSimd.StoreFirst(sum, c, count);
    }

    /// <summary>Vectors per row of C as a type, so that each count gets its own specialized loop.</summary>
    private interface IVectorCount
    {
        static abstract bool IsTwo { get; }
    }

    private readonly struct OneVector : IVectorCount
    {
        public static bool IsTwo => false;
    }

    private readonly struct TwoVectors : IVectorCount
    {
        public static bool IsTwo => true;
    }

    /// <summary>A narrow GEMM split into fixed ranges of whole row blocks, one per part.</summary>
    private sealed class NarrowJob<TSimd, TVector, TEpilogue> : ParallelJob
        where TSimd : struct, ISimd<TVector> where TVector : struct where TEpilogue : struct, IEpilogue
    {
        [ThreadStatic] private static NarrowJob<TSimd, TVector, TEpilogue>? t_instance;

        private GemmProblem _problem;
        private TEpilogue _epilogue;
        private int _kc;

        public static NarrowJob<TSimd, TVector, TEpilogue> ForCurrentThread => t_instance ??= new NarrowJob<TSimd, TVector, TEpilogue>();

        public void Set(in GemmProblem problem, in TEpilogue epilogue, int kc)
        {
            _problem = problem;
            _epilogue = epilogue;
            _kc = kc;
        }

        /// <summary>Drops the epilogue so the job does not keep its arrays alive between calls.</summary>
        public void Clear() => _epilogue = default;

        public override void Execute(int part, int partCount)
        {
            int blocks = (_problem.M + Rows - 1) / Rows;
            int start = Math.Min(_problem.M, (int)((long)blocks * part / partCount) * Rows);
            int end = Math.Min(_problem.M, (int)((long)blocks * (part + 1) / partCount) * Rows);
            if (start < end) Compute<TSimd, TVector, TEpilogue>(_problem, _epilogue, _kc, start, end);
        }
    }
}
