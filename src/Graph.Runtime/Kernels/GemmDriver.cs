using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Graph.Runtime.Kernels;

/// <summary>
/// Cache-blocking sizes for one micro-kernel (the BLIS scheme): a KC×NC panel of B is packed once per k block and
/// reused for every MC-row block of A; each packed MC×KC block of A stays in L2 while the micro-kernel sweeps it
/// against the B panel's NR-column micro-panels, each of which stays in L1.
/// </summary>
/// <param name="Kc">k-block depth.</param>
/// <param name="Mc">Rows of A packed at a time (a multiple of the kernel's MR).</param>
/// <param name="Nc">Columns of B packed at a time (a multiple of the kernel's NR).</param>
internal readonly record struct GemmBlocking(int Kc, int Mc, int Nc)
{
    // Zen 5 (48 KiB L1d, 1 MiB L2 per core): a 12×32 tile, KC·32 floats of B per micro-panel (32 KiB at KC 256)
    // in L1, a 144×256 A block (144 KiB) in L2.
    public static GemmBlocking Avx512 { get; } = new(256, 144, 2048);
    public static GemmBlocking Avx512Wide { get; } = new(256, 144, 2048);
    public static GemmBlocking Avx2 { get; } = new(256, 144, 2048);
    public static GemmBlocking Portable { get; } = new(256, 128, 2048);
    public static GemmBlocking Scalar { get; } = new(256, 64, 1024);
}

/// <summary>When a GEMM is worth splitting across the worker pool.</summary>
internal static class GemmParallelism
{
    /// <summary>Below this many flops, waking a second thread costs more than it saves (about 10 µs of single-core work).</summary>
    public const long FlopThreshold = 2_000_000;

    /// <summary>
    /// The same for <see cref="GemmNarrow"/>, which packs only B's small k×N block per thread: splitting its rows
    /// duplicates almost nothing, so it pays from a few microseconds of work (a 10-class layer's forward and weight
    /// gradient at batch 64, 1 M flops each, are most of a softmax-regression step).
    /// </summary>
    public const long NarrowFlopThreshold = 500_000;
}

/// <summary>When GEMM reads B's panels in place instead of packing them (see GemmDriver.ReadsBInPlace).</summary>
internal static class GemmBInPlace
{
    /// <summary>
    /// Up to this many rows of C per part, B is read in place. Measured on one core (Zen 5), in place against packed:
    /// 64×128×784 59 vs 67 µs, 16×784×150 20 vs 29 µs, 32×196×576 41 vs 50 µs, 96×1024×512 0.41 vs 0.50 ms,
    /// 192×512×512 0.41 vs 0.44-0.51 ms, 256×784×576 0.96 vs 1.03 ms; 1024³ 2-3 % slower in place.
    /// </summary>
    public const int MaxRows = 256;

    /// <summary>Tests: true or false forces the choice for calls made on this thread; null restores it.</summary>
    [ThreadStatic] public static bool? Forced;
}

/// <summary>The blocked GEMM loop nest for one micro-kernel and epilogue, on the calling thread or split over the pool.</summary>
internal static unsafe class GemmDriver<TKernel, TEpilogue>
    where TKernel : struct, IMicroKernel where TEpilogue : struct, IEpilogue
{
    public static void Multiply(in GemmProblem problem, in TEpilogue epilogue, GemmBlocking blocking, bool allowParallel)
    {
        int rowTiles = (problem.M + TKernel.Rows - 1) / TKernel.Rows;
        int colTiles = (problem.N + TKernel.Columns - 1) / TKernel.Columns;
        // Split the dimension with more tiles; every part packs its own operands, so no part waits on another.
        bool splitColumns = colTiles >= rowTiles;
        int parts = 1;
        if (allowParallel && 2L * problem.M * problem.N * problem.K >= GemmParallelism.FlopThreshold)
            parts = Math.Min(WorkerPool.ThreadCount, splitColumns ? colTiles : rowTiles);
        bool bInPlace = ReadsBInPlace(problem, splitColumns || parts <= 1 ? problem.M : (problem.M + parts - 1) / parts);
        if (parts <= 1)
        {
            Compute(problem, epilogue, blocking, bInPlace, 0, problem.M, 0, problem.N);
            return;
        }
        var job = GemmJob.ForCurrentThread;
        job.Set(problem, epilogue, blocking, splitColumns, bInPlace);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>
    /// Packs op(A) or op(B) whole for <see cref="GemmProblem.PackedA"/>/<see cref="GemmProblem.PackedB"/>: k block by
    /// k block, each as <see cref="Compute"/> would pack all its rows (columns), so that the block of rows from ic (a
    /// multiple of MR) at k offset pc starts at RoundUp(M, MR)·pc + ic·kc.
    /// </summary>
    public static void PackWhole(in GemmProblem p, GemmBlocking blocking, bool operandA, float* packed)
    {
        int width = operandA ? TKernel.Rows : TKernel.Columns;
        int length = operandA ? p.M : p.N;
        for (int pc = 0; pc < p.K; pc += blocking.Kc)
        {
            int kc = Math.Min(blocking.Kc, p.K - pc);
            float* block = packed + (nint)RoundUp(length, width) * pc;
            if (operandA) GemmPacking.PackA(width, p.TransA, p.A, p.Lda, 0, p.M, pc, kc, block);
            else GemmPacking.PackB(width, p.TransB, p.B, p.Ldb, pc, kc, 0, p.N, block);
        }
    }

    /// <summary>Computes and finishes C[rowStart..rowEnd, colStart..colEnd).</summary>
    public static void Compute(in GemmProblem p, in TEpilogue epilogue, GemmBlocking blocking, bool bInPlace,
        int rowStart, int rowEnd, int colStart, int colEnd)
    {
        int mr = TKernel.Rows, nr = TKernel.Columns;
        int kcMax = Math.Min(blocking.Kc, p.K);
        int mcMax = RoundUp(Math.Min(blocking.Mc, rowEnd - rowStart), mr);
        int ncMax = RoundUp(Math.Min(blocking.Nc, colEnd - colStart), nr);
        nint packedASize = RoundUp(mcMax * kcMax, 16), packedBSize = RoundUp(ncMax * kcMax, 16);
        float* packedA = KernelScratch.Current.Get(packedASize + packedBSize + mr * nr);
        float* packedB = packedA + packedASize;
        float* edgeTile = packedB + packedBSize;
        TEpilogue finish = epilogue;

        for (int jc = colStart; jc < colEnd; jc += blocking.Nc)
        {
            int nc = Math.Min(blocking.Nc, colEnd - jc);
            for (int pc = 0; pc < p.K; pc += blocking.Kc)
            {
                int kc = Math.Min(blocking.Kc, p.K - pc);
                bool addToC = pc > 0 || p.Accumulate;
                bool finished = pc + kc == p.K;
                float* bBlock = packedB;
                if (p.PackedB != null) bBlock = p.PackedB + (nint)RoundUp(p.N, nr) * pc + (nint)jc * kc;
                else if (!bInPlace) GemmPacking.PackB(nr, p.TransB, p.B, p.Ldb, pc, kc, jc, nc, packedB);
                for (int ic = rowStart; ic < rowEnd; ic += blocking.Mc)
                {
                    int mc = Math.Min(blocking.Mc, rowEnd - ic);
                    float* aBlock = packedA;
                    if (p.PackedA != null) aBlock = p.PackedA + (nint)RoundUp(p.M, mr) * pc + (nint)ic * kc;
                    else GemmPacking.PackA(mr, p.TransA, p.A, p.Lda, ic, mc, pc, kc, packedA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int cols = Math.Min(nr, nc - jr);
                        float* bPanel = bBlock + jr * kc;
                        nint ldb = nr;
                        if (bInPlace)
                        {
                            // Full panels straight from B's rows; a partial one is packed (its rows would run past N).
                            if (cols == nr)
                            {
                                bPanel = p.B + pc * p.Ldb + jc + jr;
                                ldb = p.Ldb;
                            }
                            else if (ic == rowStart) GemmPacking.PackB(nr, p.TransB, p.B, p.Ldb, pc, kc, jc + jr, cols, bPanel);
                        }
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int rows = Math.Min(mr, mc - ir);
                            float* aPanel = aBlock + ir * kc;
                            float* cTile = p.C + (ic + ir) * p.Ldc + jc + jr;
                            if (rows == mr && cols == nr)
                                TKernel.Run(kc, aPanel, bPanel, ldb, cTile, p.Ldc, addToC);
                            else
                            {
                                // Edge tile: compute the padded tile (its top or left half when that holds every
                                // valid row or column) aside, then write only the valid part.
                                if (TKernel.HasHalves && 2 * rows <= mr) TKernel.RunTopHalf(kc, aPanel, bPanel, ldb, edgeTile, nr, addToC: false);
                                else if (TKernel.HasHalves && 2 * cols <= nr) TKernel.RunLeftHalf(kc, aPanel, bPanel, ldb, edgeTile, nr, addToC: false);
                                else TKernel.Run(kc, aPanel, bPanel, ldb, edgeTile, nr, addToC: false);
                                MergeEdgeTile(edgeTile, nr, cTile, p.Ldc, rows, cols, addToC);
                            }
                            if (finished)
                                for (int r = 0; r < rows; r++)
                                    finish.Apply(new Span<float>(cTile + r * p.Ldc, cols), ic + ir + r, jc + jr);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Whether Compute reads B's panels straight from B's rows instead of packing them: for a non-transposed B when
    /// few rows of C (<paramref name="rowsPerPart"/>) share each packed panel, as in a dense layer's forward at a
    /// small batch, where packing B would move as many bytes as the product reads (and every part would pack all of
    /// it). The sums are formed in the same order either way. <see cref="GemmBInPlace.Forced"/> overrides the choice.
    /// </summary>
    private static bool ReadsBInPlace(in GemmProblem p, int rowsPerPart) =>
        p.PackedB == null && p.TransB == Transpose.None && (GemmBInPlace.Forced ?? rowsPerPart <= GemmBInPlace.MaxRows);

    private static void MergeEdgeTile(float* tile, int tileStride, float* c, nint ldc, int rows, int cols, bool addToC)
    {
        for (int r = 0; r < rows; r++)
        {
            float* source = tile + r * tileStride;
            float* destination = c + r * ldc;
            if (addToC) TensorPrimitives.Add(new ReadOnlySpan<float>(destination, cols), new ReadOnlySpan<float>(source, cols), new Span<float>(destination, cols));
            else new ReadOnlySpan<float>(source, cols).CopyTo(new Span<float>(destination, cols));
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>A GEMM split into fixed column (or row) ranges of whole tiles, one per part.</summary>
    private sealed class GemmJob : ParallelJob
    {
        [ThreadStatic] private static GemmJob? t_instance;

        private GemmProblem _problem;
        private TEpilogue _epilogue;
        private GemmBlocking _blocking;
        private bool _splitColumns, _bInPlace;

        public static GemmJob ForCurrentThread => t_instance ??= new GemmJob();

        public void Set(in GemmProblem problem, in TEpilogue epilogue, GemmBlocking blocking, bool splitColumns, bool bInPlace)
        {
            _bInPlace = bInPlace;
            _problem = problem;
            _epilogue = epilogue;
            _blocking = blocking;
            _splitColumns = splitColumns;
        }

        /// <summary>Drops the epilogue so the job does not keep its arrays alive between calls.</summary>
        public void Clear() => _epilogue = default;

        public override void Execute(int part, int partCount)
        {
            if (_splitColumns)
            {
                (int start, int end) = TileRange(_problem.N, TKernel.Columns, part, partCount);
                if (start < end) Compute(_problem, _epilogue, _blocking, _bInPlace, 0, _problem.M, start, end);
            }
            else
            {
                (int start, int end) = TileRange(_problem.M, TKernel.Rows, part, partCount);
                if (start < end) Compute(_problem, _epilogue, _blocking, _bInPlace, start, end, 0, _problem.N);
            }
        }

        private static (int Start, int End) TileRange(int length, int tile, int part, int partCount)
        {
            int tiles = (length + tile - 1) / tile;
            int start = (int)((long)tiles * part / partCount) * tile;
            int end = (int)((long)tiles * (part + 1) / partCount) * tile;
            return (Math.Min(start, length), Math.Min(end, length));
        }
    }
}
