using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Graph.Runtime.Kernels;

/// <summary>How <see cref="GemmNarrow"/> lays a product's vector lanes.</summary>
internal enum NarrowForm
{
    /// <summary>Lanes along N: each row of C one or two vectors, A's elements broadcast (any layout).</summary>
    RowVectors,
    /// <summary>Lanes along K: each element of C a dot product of a row of A with a column of B (A stored as is).</summary>
    Dots,
    /// <summary>Lanes along M: C computed column by column, B's elements broadcast (A stored transposed).</summary>
    ColumnVectors,
}

/// <summary>
/// GEMM for narrow products (N at most two vectors, e.g. a dense layer with 10 outputs, its weight gradient), in one of
/// three forms (<see cref="NarrowForm"/>) chosen by how many multiply-adds each spends on padding lanes. None packs A.
/// <para>Row vectors: each row of C is one or two vectors accumulated in registers, <see cref="Rows"/> rows at a time,
/// with A's elements broadcast straight from where they are stored; only op(B)'s k×N block is copied (zero-padded to
/// whole vectors). Every element's sum is one multiply-add chain over each k block of <c>kc</c> steps starting from
/// zero, added to C block by block, exactly as on the packed path. With 10 columns, 6 of 16 lanes are padding.</para>
/// <para>Dots (A stored m×k): C[i, j] is a vector dot product of row i of A with column j of B (B transposed into
/// scratch once per call unless it is stored n×k), a register block of rows × columns at a time, reduced across
/// lanes at the end: K fills the lanes instead of N.</para>
/// <para>Column vectors (A stored k×m, e.g. a weight gradient Xᵀ·dY): Cᵀ's rows are vectors along M, B's elements
/// broadcast; the block is transposed into C's rows at the end: M fills the lanes instead of N.</para>
/// Each form forms every element's sum in a fixed order that does not depend on the thread count or on which rows a
/// thread computes; the forms round differently from each other.
/// </summary>
internal static unsafe class GemmNarrow
{
    /// <summary>Rows of C per register block of the row-vector form: eight independent chains per vector cover the FMA latency.</summary>
    public const int Rows = 8;

    /// <summary>Columns of C per register block of the dot and column-vector forms (wider N is split into groups).</summary>
    private const int GroupColumns = 5;

    /// <summary>Whether the narrow path takes a product of <paramref name="n"/> columns at this vector width.</summary>
    public static bool Handles(int n, int vectorWidth) => n <= 2 * vectorWidth;

    /// <summary>Rows of C per register block of the dot form: with 32 registers, 4 × <see cref="GroupColumns"/> accumulators; with 16, 2 ×.</summary>
    private static int DotRows(int width) => width >= 16 ? 4 : 2;

    /// <summary>Vectors of C's column per register block of the column-vector form (as <see cref="DotRows"/>).</summary>
    private static int ColumnVectorCount(int width) => width >= 16 ? 4 : 2;

    /// <summary>
    /// The form with the fewest vector multiply-adds (padding lanes, repeated block rows and columns included) plus an
    /// estimate of each form's extra work: the dots' reductions across lanes and B's transposition, the column
    /// vectors' transposition of C.
    /// </summary>
    internal static NarrowForm FormFor(in GemmProblem p, int width)
    {
        if (width == 1) return NarrowForm.RowVectors;
        long m = p.M, n = p.N, k = p.K;
        long paddedN = (n + GroupColumns - 1) / GroupColumns * GroupColumns;
        long log2Width = System.Numerics.BitOperations.Log2((uint)width);
        long rowVectors = RoundUp(m, Rows) * ((n + width - 1) / width) * k;
        if (p.TransA == Transpose.None)
        {
            long dots = RoundUp(m, DotRows(width)) * paddedN * ((k + width - 1) / width) + m * n * log2Width
                + (p.TransB == Transpose.None ? 2 * n * k / width : 0);
            return dots < rowVectors ? NarrowForm.Dots : NarrowForm.RowVectors;
        }
        long columnVectors = paddedN * ((m + width - 1) / width) * k + 4 * m * n / width;
        return columnVectors < rowVectors ? NarrowForm.ColumnVectors : NarrowForm.RowVectors;
    }

    private static long RoundUp(long value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>Rows of C that one unit of work covers (parts split C's rows in whole units).</summary>
    private static int RowsPerBlock(NarrowForm form, int width) => form switch
    {
        NarrowForm.Dots => DotRows(width),
        NarrowForm.ColumnVectors => ColumnVectorCount(width) * width,
        _ => Rows,
    };

    public static void Multiply<TSimd, TVector, TEpilogue>(in GemmProblem problem, in TEpilogue epilogue, int kc, bool allowParallel)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TEpilogue : struct, IEpilogue
    {
        NarrowForm form = FormFor(problem, TSimd.Count);
        nint columnStride = 0;
        float* columnsOfB = form == NarrowForm.Dots ? ColumnsOfB(problem, out columnStride) : null;
        var plan = new Plan(form, kc, columnsOfB, columnStride);
        int unit = RowsPerBlock(form, TSimd.Count);
        int blocks = (problem.M + unit - 1) / unit;
        int parts = allowParallel && 2L * problem.M * problem.N * problem.K >= GemmParallelism.NarrowFlopThreshold
            ? Math.Min(WorkerPool.ThreadCount, blocks)
            : 1;
        if (parts <= 1)
        {
            Compute<TSimd, TVector, TEpilogue>(problem, epilogue, plan, 0, problem.M);
            return;
        }
        var job = NarrowJob<TSimd, TVector, TEpilogue>.ForCurrentThread;
        job.Set(problem, epilogue, plan, unit);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>
    /// What every part of one call shares: the form, the row-vector form's k block, and for the dot form op(B)'s
    /// columns as contiguous runs of K floats, <see cref="ColumnStride"/> apart (B itself, or a transposed copy in the
    /// calling thread's scratch made before the parts start).
    /// </summary>
    private readonly struct Plan(NarrowForm form, int kc, float* columnsOfB, nint columnStride)
    {
        public readonly NarrowForm Form = form;
        public readonly int Kc = kc;
        public readonly float* ColumnsOfB = columnsOfB;
        public readonly nint ColumnStride = columnStride;
    }

    /// <summary>op(B)'s columns as contiguous runs: B's rows when it is stored transposed, else a transposed copy.</summary>
    private static float* ColumnsOfB(in GemmProblem p, out nint stride)
    {
        if (p.TransB == Transpose.Transposed)
        {
            stride = p.Ldb;
            return p.B;
        }
        // Rows of 16 floats' multiples so that each column starts on a cache line.
        stride = (p.K + 15) & ~15;
        float* columns = KernelScratch.Current.Get(stride * p.N);
        GemmPacking.TransposeBlock(p.B, p.Ldb, columns, stride, p.K, p.N);
        return columns;
    }

    /// <summary>Computes and finishes rows [rowStart, rowEnd) of C.</summary>
    private static void Compute<TSimd, TVector, TEpilogue>(in GemmProblem p, in TEpilogue epilogue, in Plan plan, int rowStart, int rowEnd)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TEpilogue : struct, IEpilogue
    {
        switch (plan.Form)
        {
            case NarrowForm.Dots: ComputeDots<TSimd, TVector, TEpilogue>(p, epilogue, plan, rowStart, rowEnd); break;
            case NarrowForm.ColumnVectors: ComputeColumnVectors<TSimd, TVector, TEpilogue>(p, epilogue, rowStart, rowEnd); break;
            default: ComputeRowVectors<TSimd, TVector, TEpilogue>(p, epilogue, plan.Kc, rowStart, rowEnd); break;
        }
    }

    /// <summary>The row-vector form of rows [rowStart, rowEnd).</summary>
    // AggressiveOptimization: see the tiering policy on IMicroKernel.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeRowVectors<TSimd, TVector, TEpilogue>(in GemmProblem p, in TEpilogue epilogue, int kcMax, int rowStart, int rowEnd)
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

    /// <summary>The dot form of rows [rowStart, rowEnd): blocks of rows × up to <see cref="GroupColumns"/> columns.</summary>
    private static void ComputeDots<TSimd, TVector, TEpilogue>(in GemmProblem p, in TEpilogue epilogue, in Plan plan, int rowStart, int rowEnd)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TEpilogue : struct, IEpilogue
    {
        int blockRows = DotRows(TSimd.Count), n = p.N;
        int groups = (n + GroupColumns - 1) / GroupColumns, groupColumns = (n + groups - 1) / groups;
        int whole = p.K - p.K % TSimd.Count;
        TEpilogue finish = epilogue;
        for (int i = rowStart; i < rowEnd; i += blockRows)
        {
            int rows = Math.Min(blockRows, rowEnd - i);
            for (int j = 0; j < n; j += groupColumns)
            {
                int columns = Math.Min(groupColumns, n - j);
                float* a = p.A + i * p.Lda, b = plan.ColumnsOfB + j * plan.ColumnStride, c = p.C + i * p.Ldc + j;
                // The whole vectors of K, then its partial last vector added on (only that pass masks its loads).
                if (whole > 0) DotBlock<TSimd, TVector, WholeVectors>(new DotBlockArgs(a, p.Lda, rows, b, plan.ColumnStride, columns, whole, c, p.Ldc, p.Accumulate));
                if (whole < p.K)
                    DotBlock<TSimd, TVector, PartialLastVector>(new DotBlockArgs(a + whole, p.Lda, rows, b + whole, plan.ColumnStride, columns, p.K - whole, c, p.Ldc, p.Accumulate || whole > 0));
            }
            for (int r = 0; r < rows; r++) finish.Apply(new Span<float>(p.C + (i + r) * p.Ldc, n), i + r, 0);
        }
    }

    /// <summary>
    /// The column-vector form of rows [rowStart, rowEnd): for each block of C's rows (vectors along M), every group of
    /// columns' sums go to scratch as rows of Cᵀ, which are then transposed into C's rows.
    /// </summary>
    private static void ComputeColumnVectors<TSimd, TVector, TEpilogue>(in GemmProblem p, in TEpilogue epilogue, int rowStart, int rowEnd)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TEpilogue : struct, IEpilogue
    {
        int width = TSimd.Count, n = p.N, blockRows = ColumnVectorCount(width) * width;
        int groups = (n + GroupColumns - 1) / GroupColumns, groupColumns = (n + groups - 1) / groups;
        // op(B)[q, j] = b[q·ldb + j] (stored as is) or b[j·ldb + q] (stored transposed).
        bool bTransposed = p.TransB == Transpose.Transposed;
        nint columnStep = bTransposed ? p.Ldb : 1, kStep = bTransposed ? 1 : p.Ldb;
        // Cᵀ's rows (n × blockRows), then, when adding to C, C's rows (blockRows × 2 vectors).
        int rowStride = 2 * width;
        float* transposed = KernelScratch.Current.Get((nint)n * blockRows + (nint)blockRows * rowStride);
        float* rowsOfC = transposed + n * blockRows;
        TEpilogue finish = epilogue;
        for (int i = rowStart; i < rowEnd; i += blockRows)
        {
            int count = Math.Min(blockRows, rowEnd - i);
            for (int j = 0; j < n; j += groupColumns)
            {
                var block = new ColumnBlockArgs(p.A + i, p.Lda, count, p.B + j * columnStep, columnStep, kStep,
                    Math.Min(groupColumns, n - j), p.K, transposed + j * blockRows, blockRows);
                if (count == blockRows) ColumnBlock<TSimd, TVector, WholeVectors>(block);
                else ColumnBlock<TSimd, TVector, PartialLastVector>(block);
            }
            if (!p.Accumulate) GemmPacking.TransposeBlock(transposed, blockRows, p.C + i * p.Ldc, p.Ldc, n, count);
            else
            {
                GemmPacking.TransposeBlock(transposed, blockRows, rowsOfC, rowStride, n, count);
                for (int r = 0; r < count; r++)
                {
                    float* c = p.C + (i + r) * p.Ldc, row = rowsOfC + r * rowStride;
                    StorePart<TSimd, TVector>(c, TSimd.Load(row), Math.Min(n, width), addToC: true);
                    if (n > width) StorePart<TSimd, TVector>(c + width, TSimd.Load(row + width), n - width, addToC: true);
                }
            }
            for (int r = 0; r < count; r++) finish.Apply(new Span<float>(p.C + (i + r) * p.Ldc, n), i + r, 0);
        }
    }

    /// <summary>
    /// One dot-form register block: rows r &lt; Rows of A (at A + r·Lda, K contiguous floats each) times columns
    /// c &lt; Columns of op(B) (at B + c·BStride), into C + r·Ldc + c (added to it when Accumulate).
    /// </summary>
    private readonly struct DotBlockArgs(float* a, nint lda, int rows, float* b, nint bStride, int columns, int k, float* c, nint ldc, bool accumulate)
    {
        public readonly float* A = a, B = b, C = c;
        public readonly nint Lda = lda, BStride = bStride, Ldc = ldc;
        public readonly int Rows = rows, Columns = columns, K = k;
        public readonly bool Accumulate = accumulate;
    }

    /// <summary>
    /// Σ_q A[r, q]·B[c, q] for a block of up to 4 (2 with 16 registers) rows × <see cref="GroupColumns"/> columns: one
    /// vector accumulator per element along q (its last vector partial when K is not a whole number of vectors), summed
    /// across lanes at the end. Missing rows and columns repeat the last one, so the loop has no edge cases; their sums
    /// are never stored.
    /// </summary>
    // AggressiveOptimization: see the tiering policy on IMicroKernel.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotBlock<TSimd, TVector, TTail>(in DotBlockArgs block)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TTail : struct, IBlockTail
    {
        int width = TSimd.Count, k = block.K;
        bool four = DotRows(width) == 4;
        int lastRow = block.Rows - 1, lastColumn = block.Columns - 1;
        nint lda = block.Lda, bStride = block.BStride;
        float* a0 = block.A, a1 = a0 + Math.Min(1, lastRow) * lda, a2 = a0 + Math.Min(2, lastRow) * lda, a3 = a0 + Math.Min(3, lastRow) * lda;
        float* b0 = block.B, b1 = b0 + Math.Min(1, lastColumn) * bStride, b2 = b0 + Math.Min(2, lastColumn) * bStride;
        float* b3 = b0 + Math.Min(3, lastColumn) * bStride, b4 = b0 + Math.Min(4, lastColumn) * bStride;
        TVector s00 = TSimd.Zero, s01 = TSimd.Zero, s02 = TSimd.Zero, s03 = TSimd.Zero, s04 = TSimd.Zero;
        TVector s10 = TSimd.Zero, s11 = TSimd.Zero, s12 = TSimd.Zero, s13 = TSimd.Zero, s14 = TSimd.Zero;
        TVector s20 = TSimd.Zero, s21 = TSimd.Zero, s22 = TSimd.Zero, s23 = TSimd.Zero, s24 = TSimd.Zero;
        TVector s30 = TSimd.Zero, s31 = TSimd.Zero, s32 = TSimd.Zero, s33 = TSimd.Zero, s34 = TSimd.Zero;
        for (int q = 0; q < k; q += width)
        {
            int left = k - q;
            TVector x0 = LoadPart<TSimd, TVector, TTail>(a0 + q, left), x1 = LoadPart<TSimd, TVector, TTail>(a1 + q, left);
            TVector x2 = four ? LoadPart<TSimd, TVector, TTail>(a2 + q, left) : TSimd.Zero;
            TVector x3 = four ? LoadPart<TSimd, TVector, TTail>(a3 + q, left) : TSimd.Zero;
            TVector y = LoadPart<TSimd, TVector, TTail>(b0 + q, left);
            s00 = TSimd.MultiplyAdd(x0, y, s00);
            s10 = TSimd.MultiplyAdd(x1, y, s10);
            if (four) { s20 = TSimd.MultiplyAdd(x2, y, s20); s30 = TSimd.MultiplyAdd(x3, y, s30); }
            y = LoadPart<TSimd, TVector, TTail>(b1 + q, left);
            s01 = TSimd.MultiplyAdd(x0, y, s01);
            s11 = TSimd.MultiplyAdd(x1, y, s11);
            if (four) { s21 = TSimd.MultiplyAdd(x2, y, s21); s31 = TSimd.MultiplyAdd(x3, y, s31); }
            y = LoadPart<TSimd, TVector, TTail>(b2 + q, left);
            s02 = TSimd.MultiplyAdd(x0, y, s02);
            s12 = TSimd.MultiplyAdd(x1, y, s12);
            if (four) { s22 = TSimd.MultiplyAdd(x2, y, s22); s32 = TSimd.MultiplyAdd(x3, y, s32); }
            y = LoadPart<TSimd, TVector, TTail>(b3 + q, left);
            s03 = TSimd.MultiplyAdd(x0, y, s03);
            s13 = TSimd.MultiplyAdd(x1, y, s13);
            if (four) { s23 = TSimd.MultiplyAdd(x2, y, s23); s33 = TSimd.MultiplyAdd(x3, y, s33); }
            y = LoadPart<TSimd, TVector, TTail>(b4 + q, left);
            s04 = TSimd.MultiplyAdd(x0, y, s04);
            s14 = TSimd.MultiplyAdd(x1, y, s14);
            if (four) { s24 = TSimd.MultiplyAdd(x2, y, s24); s34 = TSimd.MultiplyAdd(x3, y, s34); }
        }
        float* c = block.C;
        nint ldc = block.Ldc;
        int columns = block.Columns;
        bool accumulate = block.Accumulate;
        StoreDots<TSimd, TVector>(c, columns, accumulate, s00, s01, s02, s03, s04);
        if (lastRow >= 1) StoreDots<TSimd, TVector>(c + ldc, columns, accumulate, s10, s11, s12, s13, s14);
        if (four && lastRow >= 2) StoreDots<TSimd, TVector>(c + 2 * ldc, columns, accumulate, s20, s21, s22, s23, s24);
        if (four && lastRow >= 3) StoreDots<TSimd, TVector>(c + 3 * ldc, columns, accumulate, s30, s31, s32, s33, s34);
    }

    /// <summary>
    /// A whole vector; in a block with a partial last vector, only the first <paramref name="left"/> lanes (zero above)
    /// when fewer are left.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVector LoadPart<TSimd, TVector, TTail>(float* source, int left)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TTail : struct, IBlockTail =>
        TTail.LastIsPartial && left < TSimd.Count ? TSimd.LoadFirst(source, left) : TSimd.Load(source);

    /// <summary>One row's dot products summed across lanes into its first <paramref name="columns"/> elements of C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreDots<TSimd, TVector>(float* c, int columns, bool accumulate, TVector s0, TVector s1, TVector s2, TVector s3, TVector s4)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        StoreDot(c, accumulate, SumAcross<TSimd, TVector>(s0));
        if (columns > 1) StoreDot(c + 1, accumulate, SumAcross<TSimd, TVector>(s1));
        if (columns > 2) StoreDot(c + 2, accumulate, SumAcross<TSimd, TVector>(s2));
        if (columns > 3) StoreDot(c + 3, accumulate, SumAcross<TSimd, TVector>(s3));
        if (columns > 4) StoreDot(c + 4, accumulate, SumAcross<TSimd, TVector>(s4));
    }

    /// <summary>
    /// The lanes' sum by halving (8 instructions for 16 lanes, where Vector512.Sum takes about 26), in a fixed order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float SumAcross<TSimd, TVector>(TVector value)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        Vector128<float> quarter;
        if (typeof(TVector) == typeof(Vector512<float>))
        {
            Vector512<float> all = Unsafe.As<TVector, Vector512<float>>(ref value);
            Vector256<float> half = all.GetLower() + all.GetUpper();
            quarter = half.GetLower() + half.GetUpper();
        }
        else if (typeof(TVector) == typeof(Vector256<float>))
        {
            Vector256<float> half = Unsafe.As<TVector, Vector256<float>>(ref value);
            quarter = half.GetLower() + half.GetUpper();
        }
        else return TSimd.Sum(value);
        quarter += Vector128.Shuffle(quarter, Vector128.Create(2, 3, 0, 1));
        quarter += Vector128.Shuffle(quarter, Vector128.Create(1, 0, 3, 2));
        return quarter.ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreDot(float* c, bool accumulate, float sum) => *c = accumulate ? *c + sum : sum;

    /// <summary>
    /// One column-vector register block: Cᵀ[c, i] for columns c &lt; Columns and i &lt; Count (rows of C), where
    /// op(A)[i, q] = A[q·Lda + i] and op(B)[q, c] = B[c·ColumnStep + q·KStep]; row c of the result goes to
    /// Sums + c·SumStride.
    /// </summary>
    private readonly struct ColumnBlockArgs(float* a, nint lda, int count, float* b, nint columnStep, nint kStep, int columns, int k, float* sums, nint sumStride)
    {
        public readonly float* A = a, B = b, Sums = sums;
        public readonly nint Lda = lda, ColumnStep = columnStep, KStep = kStep, SumStride = sumStride;
        public readonly int Count = count, Columns = columns, K = k;
    }

    /// <summary>
    /// Σ_q op(B)[q, c]·op(A)[i, q] for up to <see cref="GroupColumns"/> columns × 4 vectors of rows (2 with 16
    /// registers): one multiply-add chain per vector over q in order. Missing columns repeat the last one; in a
    /// partial block (<typeparamref name="TTail"/>) vectors past Count are not computed and the last one reads only its rows.
    /// </summary>
    // AggressiveOptimization: see the tiering policy on IMicroKernel.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnBlock<TSimd, TVector, TTail>(in ColumnBlockArgs block)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TTail : struct, IBlockTail
    {
        int width = TSimd.Count, k = block.K, count = block.Count;
        bool fourVectors = ColumnVectorCount(width) == 4;
        // A whole block's vector count is a constant, so its loop tests nothing.
        int vectors = TTail.LastIsPartial ? (count + width - 1) / width : ColumnVectorCount(width);
        int lastColumn = block.Columns - 1;
        nint lda = block.Lda, columnStep = block.ColumnStep, kStep = block.KStep;
        float* a = block.A;
        float* b0 = block.B, b1 = b0 + Math.Min(1, lastColumn) * columnStep, b2 = b0 + Math.Min(2, lastColumn) * columnStep;
        float* b3 = b0 + Math.Min(3, lastColumn) * columnStep, b4 = b0 + Math.Min(4, lastColumn) * columnStep;
        TVector s00 = TSimd.Zero, s01 = TSimd.Zero, s02 = TSimd.Zero, s03 = TSimd.Zero;
        TVector s10 = TSimd.Zero, s11 = TSimd.Zero, s12 = TSimd.Zero, s13 = TSimd.Zero;
        TVector s20 = TSimd.Zero, s21 = TSimd.Zero, s22 = TSimd.Zero, s23 = TSimd.Zero;
        TVector s30 = TSimd.Zero, s31 = TSimd.Zero, s32 = TSimd.Zero, s33 = TSimd.Zero;
        TVector s40 = TSimd.Zero, s41 = TSimd.Zero, s42 = TSimd.Zero, s43 = TSimd.Zero;
        nint at = 0;
        for (int q = 0; q < k; q++, a += lda, at += kStep)
        {
            TVector x0 = LoadPart<TSimd, TVector, TTail>(a, count);
            TVector x1 = vectors > 1 ? LoadPart<TSimd, TVector, TTail>(a + width, count - width) : TSimd.Zero;
            TVector x2 = fourVectors && vectors > 2 ? LoadPart<TSimd, TVector, TTail>(a + 2 * width, count - 2 * width) : TSimd.Zero;
            TVector x3 = fourVectors && vectors > 3 ? LoadPart<TSimd, TVector, TTail>(a + 3 * width, count - 3 * width) : TSimd.Zero;
            TVector y0 = TSimd.Broadcast(b0[at]), y1 = TSimd.Broadcast(b1[at]), y2 = TSimd.Broadcast(b2[at]);
            TVector y3 = TSimd.Broadcast(b3[at]), y4 = TSimd.Broadcast(b4[at]);
            s00 = TSimd.MultiplyAdd(y0, x0, s00);
            s10 = TSimd.MultiplyAdd(y1, x0, s10);
            s20 = TSimd.MultiplyAdd(y2, x0, s20);
            s30 = TSimd.MultiplyAdd(y3, x0, s30);
            s40 = TSimd.MultiplyAdd(y4, x0, s40);
            if (vectors > 1)
            {
                s01 = TSimd.MultiplyAdd(y0, x1, s01);
                s11 = TSimd.MultiplyAdd(y1, x1, s11);
                s21 = TSimd.MultiplyAdd(y2, x1, s21);
                s31 = TSimd.MultiplyAdd(y3, x1, s31);
                s41 = TSimd.MultiplyAdd(y4, x1, s41);
            }
            if (fourVectors && vectors > 2)
            {
                s02 = TSimd.MultiplyAdd(y0, x2, s02);
                s12 = TSimd.MultiplyAdd(y1, x2, s12);
                s22 = TSimd.MultiplyAdd(y2, x2, s22);
                s32 = TSimd.MultiplyAdd(y3, x2, s32);
                s42 = TSimd.MultiplyAdd(y4, x2, s42);
            }
            if (fourVectors && vectors > 3)
            {
                s03 = TSimd.MultiplyAdd(y0, x3, s03);
                s13 = TSimd.MultiplyAdd(y1, x3, s13);
                s23 = TSimd.MultiplyAdd(y2, x3, s23);
                s33 = TSimd.MultiplyAdd(y3, x3, s33);
                s43 = TSimd.MultiplyAdd(y4, x3, s43);
            }
        }
        float* sums = block.Sums;
        nint stride = block.SumStride;
        int columns = block.Columns;
        StoreColumn<TSimd, TVector>(sums, vectors, fourVectors, s00, s01, s02, s03);
        if (columns > 1) StoreColumn<TSimd, TVector>(sums + stride, vectors, fourVectors, s10, s11, s12, s13);
        if (columns > 2) StoreColumn<TSimd, TVector>(sums + 2 * stride, vectors, fourVectors, s20, s21, s22, s23);
        if (columns > 3) StoreColumn<TSimd, TVector>(sums + 3 * stride, vectors, fourVectors, s30, s31, s32, s33);
        if (columns > 4) StoreColumn<TSimd, TVector>(sums + 4 * stride, vectors, fourVectors, s40, s41, s42, s43);
    }

    /// <summary>One row of Cᵀ's block (whole vectors; the scratch row has room for all of them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreColumn<TSimd, TVector>(float* row, int vectors, bool fourVectors, TVector v0, TVector v1, TVector v2, TVector v3)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        int width = TSimd.Count;
        TSimd.Store(v0, row);
        if (vectors > 1) TSimd.Store(v1, row + width);
        if (fourVectors && vectors > 2) TSimd.Store(v2, row + 2 * width);
        if (fourVectors && vectors > 3) TSimd.Store(v3, row + 3 * width);
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
        private Plan _plan;
        private int _unit;

        public static NarrowJob<TSimd, TVector, TEpilogue> ForCurrentThread => t_instance ??= new NarrowJob<TSimd, TVector, TEpilogue>();

        public void Set(in GemmProblem problem, in TEpilogue epilogue, in Plan plan, int unit)
        {
            _problem = problem;
            _epilogue = epilogue;
            _plan = plan;
            _unit = unit;
        }

        /// <summary>Drops the epilogue so the job does not keep its arrays alive between calls.</summary>
        public void Clear() => _epilogue = default;

        public override void Execute(int part, int partCount)
        {
            int blocks = (_problem.M + _unit - 1) / _unit;
            int start = Math.Min(_problem.M, (int)((long)blocks * part / partCount) * _unit);
            int end = Math.Min(_problem.M, (int)((long)blocks * (part + 1) / partCount) * _unit);
            if (start < end) Compute<TSimd, TVector, TEpilogue>(_problem, _epilogue, _plan, start, end);
        }
    }
}
