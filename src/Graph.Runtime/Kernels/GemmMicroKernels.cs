using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Graph.Runtime.Kernels;

/// <summary>
/// A GEMM register tile: multiplies a packed A micro-panel (<see cref="Rows"/> values per k step) by a B
/// micro-panel (<see cref="Columns"/> values per k step, packed or read in place) and stores or adds the tile to C. Every element's
/// sum is formed in the same order whatever the tile's position, so results never depend on how work is split.
/// </summary>
/// <remarks>
/// Kernel tiering policy. The implementations' tile methods and <see cref="GemmNarrow"/>'s register-block loops are the only
/// kernels marked AggressiveOptimization: their tier-1 code (tiered PGO) measured slower than a full optimization from
/// the start (gemm256 about 4% without the ReadyToRun image, softmax 3-9% with or without it). crossgen2 skips such
/// methods, so they cost a full JIT at a process's first use (about 4 ms for the five LeNet uses). Every other kernel is
/// precompiled into the ReadyToRun image and tiered: no JIT at the first call, re-JIT-compiled at tier 1 when hot
/// (where the image cannot be used, tier 0 until then: a few slower first steps, the same speed afterwards).
/// </remarks>
internal unsafe interface IMicroKernel
{
    /// <summary>Rows of C per tile (MR).</summary>
    static abstract int Rows { get; }

    /// <summary>Columns of C per tile (NR).</summary>
    static abstract int Columns { get; }

    /// <summary>
    /// <c>tile = Σ_p a[p·Rows + r] · b[p·ldb + j]</c> over <paramref name="kc"/> steps, starting from zero; then
    /// <c>c[r·ldc + j] = tile</c>, or <c>c[r·ldc + j] += tile</c> when <paramref name="addToC"/>. <paramref name="ldb"/>
    /// is <see cref="Columns"/> for a packed B panel, or B's row stride when the panel is read in place.
    /// </summary>
    static abstract void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool addToC);

    /// <summary>
    /// Whether <see cref="RunLeftHalf"/> and <see cref="RunTopHalf"/> exist: an edge tile with at most
    /// <see cref="Columns"/>/2 valid columns or <see cref="Rows"/>/2 valid rows then costs half a tile.
    /// </summary>
    static virtual bool HasHalves => false;

    /// <summary>
    /// <see cref="Run"/> for the left <see cref="Columns"/>/2 columns only (b keeps its stride), each sum
    /// formed in the same order as by <see cref="Run"/>.
    /// </summary>
    static virtual void RunLeftHalf(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool addToC) =>
        throw new System.NotSupportedException();

    /// <summary>
    /// <see cref="Run"/> for the top <see cref="Rows"/>/2 rows only (a keeps its full panel stride), each sum formed
    /// in the same order as by <see cref="Run"/>.
    /// </summary>
    static virtual void RunTopHalf(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool addToC) =>
        throw new System.NotSupportedException();
}

/// <summary>12×32 tile: 24 zmm accumulators, two B vectors and a broadcast A value in the 32 zmm registers.</summary>
internal readonly unsafe struct Avx512MicroKernel : IMicroKernel
{
    public static int Rows => 12;
    public static int Columns => 2 * 16;

    // Fully optimized from the first call: a tier-0 micro-kernel runs an order of magnitude slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool addToC)
    {
        Vector512<float> c0_0 = default, c0_1 = default;
        Vector512<float> c1_0 = default, c1_1 = default;
        Vector512<float> c2_0 = default, c2_1 = default;
        Vector512<float> c3_0 = default, c3_1 = default;
        Vector512<float> c4_0 = default, c4_1 = default;
        Vector512<float> c5_0 = default, c5_1 = default;
        Vector512<float> c6_0 = default, c6_1 = default;
        Vector512<float> c7_0 = default, c7_1 = default;
        Vector512<float> c8_0 = default, c8_1 = default;
        Vector512<float> c9_0 = default, c9_1 = default;
        Vector512<float> c10_0 = default, c10_1 = default;
        Vector512<float> c11_0 = default, c11_1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 1 * 16);
            Vector512<float> a0 = Vector512.Create(a[0]);
            c0_0 = Avx512F.FusedMultiplyAdd(a0, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(a0, b1, c0_1);
            Vector512<float> a1 = Vector512.Create(a[1]);
            c1_0 = Avx512F.FusedMultiplyAdd(a1, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(a1, b1, c1_1);
            Vector512<float> a2 = Vector512.Create(a[2]);
            c2_0 = Avx512F.FusedMultiplyAdd(a2, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(a2, b1, c2_1);
            Vector512<float> a3 = Vector512.Create(a[3]);
            c3_0 = Avx512F.FusedMultiplyAdd(a3, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(a3, b1, c3_1);
            Vector512<float> a4 = Vector512.Create(a[4]);
            c4_0 = Avx512F.FusedMultiplyAdd(a4, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(a4, b1, c4_1);
            Vector512<float> a5 = Vector512.Create(a[5]);
            c5_0 = Avx512F.FusedMultiplyAdd(a5, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(a5, b1, c5_1);
            Vector512<float> a6 = Vector512.Create(a[6]);
            c6_0 = Avx512F.FusedMultiplyAdd(a6, b0, c6_0);
            c6_1 = Avx512F.FusedMultiplyAdd(a6, b1, c6_1);
            Vector512<float> a7 = Vector512.Create(a[7]);
            c7_0 = Avx512F.FusedMultiplyAdd(a7, b0, c7_0);
            c7_1 = Avx512F.FusedMultiplyAdd(a7, b1, c7_1);
            Vector512<float> a8 = Vector512.Create(a[8]);
            c8_0 = Avx512F.FusedMultiplyAdd(a8, b0, c8_0);
            c8_1 = Avx512F.FusedMultiplyAdd(a8, b1, c8_1);
            Vector512<float> a9 = Vector512.Create(a[9]);
            c9_0 = Avx512F.FusedMultiplyAdd(a9, b0, c9_0);
            c9_1 = Avx512F.FusedMultiplyAdd(a9, b1, c9_1);
            Vector512<float> a10 = Vector512.Create(a[10]);
            c10_0 = Avx512F.FusedMultiplyAdd(a10, b0, c10_0);
            c10_1 = Avx512F.FusedMultiplyAdd(a10, b1, c10_1);
            Vector512<float> a11 = Vector512.Create(a[11]);
            c11_0 = Avx512F.FusedMultiplyAdd(a11, b0, c11_0);
            c11_1 = Avx512F.FusedMultiplyAdd(a11, b1, c11_1);
            a += 12;
            b += ldb;
        }
        Store(c, c0_0, addToC); Store(c + 1 * 16, c0_1, addToC);
        c += ldc;
        Store(c, c1_0, addToC); Store(c + 1 * 16, c1_1, addToC);
        c += ldc;
        Store(c, c2_0, addToC); Store(c + 1 * 16, c2_1, addToC);
        c += ldc;
        Store(c, c3_0, addToC); Store(c + 1 * 16, c3_1, addToC);
        c += ldc;
        Store(c, c4_0, addToC); Store(c + 1 * 16, c4_1, addToC);
        c += ldc;
        Store(c, c5_0, addToC); Store(c + 1 * 16, c5_1, addToC);
        c += ldc;
        Store(c, c6_0, addToC); Store(c + 1 * 16, c6_1, addToC);
        c += ldc;
        Store(c, c7_0, addToC); Store(c + 1 * 16, c7_1, addToC);
        c += ldc;
        Store(c, c8_0, addToC); Store(c + 1 * 16, c8_1, addToC);
        c += ldc;
        Store(c, c9_0, addToC); Store(c + 1 * 16, c9_1, addToC);
        c += ldc;
        Store(c, c10_0, addToC); Store(c + 1 * 16, c10_1, addToC);
        c += ldc;
        Store(c, c11_0, addToC); Store(c + 1 * 16, c11_1, addToC);
    }

    public static bool HasHalves => true;

    /// <summary>6×32: the top half of the tile, for an edge panel of at most 6 rows (12 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunTopHalf(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool addToC)
    {
        Vector512<float> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default, c2_0 = default, c2_1 = default;
        Vector512<float> c3_0 = default, c3_1 = default, c4_0 = default, c4_1 = default, c5_0 = default, c5_1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            Vector512<float> a0 = Vector512.Create(a[0]);
            c0_0 = Avx512F.FusedMultiplyAdd(a0, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(a0, b1, c0_1);
            Vector512<float> a1 = Vector512.Create(a[1]);
            c1_0 = Avx512F.FusedMultiplyAdd(a1, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(a1, b1, c1_1);
            Vector512<float> a2 = Vector512.Create(a[2]);
            c2_0 = Avx512F.FusedMultiplyAdd(a2, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(a2, b1, c2_1);
            Vector512<float> a3 = Vector512.Create(a[3]);
            c3_0 = Avx512F.FusedMultiplyAdd(a3, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(a3, b1, c3_1);
            Vector512<float> a4 = Vector512.Create(a[4]);
            c4_0 = Avx512F.FusedMultiplyAdd(a4, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(a4, b1, c4_1);
            Vector512<float> a5 = Vector512.Create(a[5]);
            c5_0 = Avx512F.FusedMultiplyAdd(a5, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(a5, b1, c5_1);
            a += Rows;
            b += ldb;
        }
        Store(c, c0_0, addToC); Store(c + 16, c0_1, addToC);
        c += ldc;
        Store(c, c1_0, addToC); Store(c + 16, c1_1, addToC);
        c += ldc;
        Store(c, c2_0, addToC); Store(c + 16, c2_1, addToC);
        c += ldc;
        Store(c, c3_0, addToC); Store(c + 16, c3_1, addToC);
        c += ldc;
        Store(c, c4_0, addToC); Store(c + 16, c4_1, addToC);
        c += ldc;
        Store(c, c5_0, addToC); Store(c + 16, c5_1, addToC);
    }

    /// <summary>12×16: the left half of the tile, for an edge panel of at most 16 columns (12 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunLeftHalf(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool addToC)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector512<float> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[6]), b0, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[7]), b0, c7);
            c8 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[8]), b0, c8);
            c9 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[9]), b0, c9);
            c10 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[10]), b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[11]), b0, c11);
            a += Rows;
            b += ldb;
        }
        Store(c, c0, addToC); Store(c + ldc, c1, addToC); Store(c + 2 * ldc, c2, addToC); Store(c + 3 * ldc, c3, addToC);
        Store(c + 4 * ldc, c4, addToC); Store(c + 5 * ldc, c5, addToC); Store(c + 6 * ldc, c6, addToC); Store(c + 7 * ldc, c7, addToC);
        Store(c + 8 * ldc, c8, addToC); Store(c + 9 * ldc, c9, addToC); Store(c + 10 * ldc, c10, addToC); Store(c + 11 * ldc, c11, addToC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* destination, Vector512<float> sum, bool addToC) =>
        Vector512.Store(addToC ? Vector512.Load(destination) + sum : sum, destination);
}

/// <summary>
/// 6×64 tile: 24 zmm accumulators, four B vectors and a broadcast A value. For products with few rows (convolutions
/// with few output channels), where the 12-row tile would compute mostly padding. Each element's sum is formed in
/// the same order as with <see cref="Avx512MicroKernel"/>, so the choice between them never changes a result.
/// </summary>
internal readonly unsafe struct Avx512WideMicroKernel : IMicroKernel
{
    public static int Rows => 6;
    public static int Columns => 4 * 16;

    // Fully optimized from the first call: a tier-0 micro-kernel runs an order of magnitude slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool addToC)
    {
        Vector512<float> c0_0 = default, c0_1 = default, c0_2 = default, c0_3 = default;
        Vector512<float> c1_0 = default, c1_1 = default, c1_2 = default, c1_3 = default;
        Vector512<float> c2_0 = default, c2_1 = default, c2_2 = default, c2_3 = default;
        Vector512<float> c3_0 = default, c3_1 = default, c3_2 = default, c3_3 = default;
        Vector512<float> c4_0 = default, c4_1 = default, c4_2 = default, c4_3 = default;
        Vector512<float> c5_0 = default, c5_1 = default, c5_2 = default, c5_3 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16), b2 = Vector512.Load(b + 32), b3 = Vector512.Load(b + 48);
            Vector512<float> a0 = Vector512.Create(a[0]);
            c0_0 = Avx512F.FusedMultiplyAdd(a0, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(a0, b1, c0_1);
            c0_2 = Avx512F.FusedMultiplyAdd(a0, b2, c0_2);
            c0_3 = Avx512F.FusedMultiplyAdd(a0, b3, c0_3);
            Vector512<float> a1 = Vector512.Create(a[1]);
            c1_0 = Avx512F.FusedMultiplyAdd(a1, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(a1, b1, c1_1);
            c1_2 = Avx512F.FusedMultiplyAdd(a1, b2, c1_2);
            c1_3 = Avx512F.FusedMultiplyAdd(a1, b3, c1_3);
            Vector512<float> a2 = Vector512.Create(a[2]);
            c2_0 = Avx512F.FusedMultiplyAdd(a2, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(a2, b1, c2_1);
            c2_2 = Avx512F.FusedMultiplyAdd(a2, b2, c2_2);
            c2_3 = Avx512F.FusedMultiplyAdd(a2, b3, c2_3);
            Vector512<float> a3 = Vector512.Create(a[3]);
            c3_0 = Avx512F.FusedMultiplyAdd(a3, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(a3, b1, c3_1);
            c3_2 = Avx512F.FusedMultiplyAdd(a3, b2, c3_2);
            c3_3 = Avx512F.FusedMultiplyAdd(a3, b3, c3_3);
            Vector512<float> a4 = Vector512.Create(a[4]);
            c4_0 = Avx512F.FusedMultiplyAdd(a4, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(a4, b1, c4_1);
            c4_2 = Avx512F.FusedMultiplyAdd(a4, b2, c4_2);
            c4_3 = Avx512F.FusedMultiplyAdd(a4, b3, c4_3);
            Vector512<float> a5 = Vector512.Create(a[5]);
            c5_0 = Avx512F.FusedMultiplyAdd(a5, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(a5, b1, c5_1);
            c5_2 = Avx512F.FusedMultiplyAdd(a5, b2, c5_2);
            c5_3 = Avx512F.FusedMultiplyAdd(a5, b3, c5_3);
            a += 6;
            b += ldb;
        }
        Store(c, c0_0, addToC); Store(c + 16, c0_1, addToC); Store(c + 32, c0_2, addToC); Store(c + 48, c0_3, addToC);
        c += ldc;
        Store(c, c1_0, addToC); Store(c + 16, c1_1, addToC); Store(c + 32, c1_2, addToC); Store(c + 48, c1_3, addToC);
        c += ldc;
        Store(c, c2_0, addToC); Store(c + 16, c2_1, addToC); Store(c + 32, c2_2, addToC); Store(c + 48, c2_3, addToC);
        c += ldc;
        Store(c, c3_0, addToC); Store(c + 16, c3_1, addToC); Store(c + 32, c3_2, addToC); Store(c + 48, c3_3, addToC);
        c += ldc;
        Store(c, c4_0, addToC); Store(c + 16, c4_1, addToC); Store(c + 32, c4_2, addToC); Store(c + 48, c4_3, addToC);
        c += ldc;
        Store(c, c5_0, addToC); Store(c + 16, c5_1, addToC); Store(c + 32, c5_2, addToC); Store(c + 48, c5_3, addToC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* destination, Vector512<float> sum, bool addToC) =>
        Vector512.Store(addToC ? Vector512.Load(destination) + sum : sum, destination);
}

/// <summary>6×16 tile: 12 ymm accumulators, two B vectors and a broadcast A value in the 16 ymm registers.</summary>
internal readonly unsafe struct Avx2MicroKernel : IMicroKernel
{
    public static int Rows => 6;
    public static int Columns => 2 * 8;

    // Fully optimized from the first call: a tier-0 micro-kernel runs an order of magnitude slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool addToC)
    {
        Vector256<float> c0_0 = default, c0_1 = default;
        Vector256<float> c1_0 = default, c1_1 = default;
        Vector256<float> c2_0 = default, c2_1 = default;
        Vector256<float> c3_0 = default, c3_1 = default;
        Vector256<float> c4_0 = default, c4_1 = default;
        Vector256<float> c5_0 = default, c5_1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 1 * 8);
            Vector256<float> a0 = Vector256.Create(a[0]);
            c0_0 = Fma.MultiplyAdd(a0, b0, c0_0);
            c0_1 = Fma.MultiplyAdd(a0, b1, c0_1);
            Vector256<float> a1 = Vector256.Create(a[1]);
            c1_0 = Fma.MultiplyAdd(a1, b0, c1_0);
            c1_1 = Fma.MultiplyAdd(a1, b1, c1_1);
            Vector256<float> a2 = Vector256.Create(a[2]);
            c2_0 = Fma.MultiplyAdd(a2, b0, c2_0);
            c2_1 = Fma.MultiplyAdd(a2, b1, c2_1);
            Vector256<float> a3 = Vector256.Create(a[3]);
            c3_0 = Fma.MultiplyAdd(a3, b0, c3_0);
            c3_1 = Fma.MultiplyAdd(a3, b1, c3_1);
            Vector256<float> a4 = Vector256.Create(a[4]);
            c4_0 = Fma.MultiplyAdd(a4, b0, c4_0);
            c4_1 = Fma.MultiplyAdd(a4, b1, c4_1);
            Vector256<float> a5 = Vector256.Create(a[5]);
            c5_0 = Fma.MultiplyAdd(a5, b0, c5_0);
            c5_1 = Fma.MultiplyAdd(a5, b1, c5_1);
            a += 6;
            b += ldb;
        }
        Store(c, c0_0, addToC); Store(c + 1 * 8, c0_1, addToC);
        c += ldc;
        Store(c, c1_0, addToC); Store(c + 1 * 8, c1_1, addToC);
        c += ldc;
        Store(c, c2_0, addToC); Store(c + 1 * 8, c2_1, addToC);
        c += ldc;
        Store(c, c3_0, addToC); Store(c + 1 * 8, c3_1, addToC);
        c += ldc;
        Store(c, c4_0, addToC); Store(c + 1 * 8, c4_1, addToC);
        c += ldc;
        Store(c, c5_0, addToC); Store(c + 1 * 8, c5_1, addToC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* destination, Vector256<float> sum, bool addToC) =>
        Vector256.Store(addToC ? Vector256.Load(destination) + sum : sum, destination);
}

/// <summary>4×(2 vectors) tile with <see cref="Vector{T}"/> of whatever width the platform has; multiply and add stay separate because a software-emulated fused multiply-add would be slow where FMA is missing.</summary>
internal readonly unsafe struct PortableVectorMicroKernel : IMicroKernel
{
    public static int Rows => 4;
    public static int Columns => 2 * Vector<float>.Count;

    // Fully optimized from the first call: a tier-0 micro-kernel runs an order of magnitude slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool addToC)
    {
        Vector<float> c0_0 = default, c0_1 = default;
        Vector<float> c1_0 = default, c1_1 = default;
        Vector<float> c2_0 = default, c2_1 = default;
        Vector<float> c3_0 = default, c3_1 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector<float> b0 = Vector.Load(b), b1 = Vector.Load(b + 1 * Vector<float>.Count);
            Vector<float> a0 = new Vector<float>(a[0]);
            c0_0 = c0_0 + a0 * b0;
            c0_1 = c0_1 + a0 * b1;
            Vector<float> a1 = new Vector<float>(a[1]);
            c1_0 = c1_0 + a1 * b0;
            c1_1 = c1_1 + a1 * b1;
            Vector<float> a2 = new Vector<float>(a[2]);
            c2_0 = c2_0 + a2 * b0;
            c2_1 = c2_1 + a2 * b1;
            Vector<float> a3 = new Vector<float>(a[3]);
            c3_0 = c3_0 + a3 * b0;
            c3_1 = c3_1 + a3 * b1;
            a += 4;
            b += ldb;
        }
        Store(c, c0_0, addToC); Store(c + 1 * Vector<float>.Count, c0_1, addToC);
        c += ldc;
        Store(c, c1_0, addToC); Store(c + 1 * Vector<float>.Count, c1_1, addToC);
        c += ldc;
        Store(c, c2_0, addToC); Store(c + 1 * Vector<float>.Count, c2_1, addToC);
        c += ldc;
        Store(c, c3_0, addToC); Store(c + 1 * Vector<float>.Count, c3_1, addToC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* destination, Vector<float> sum, bool addToC) =>
        Vector.Store(addToC ? Vector.Load(destination) + sum : sum, destination);
}


/// <summary>4×4 tile in plain scalar code, for machines without usable SIMD.</summary>
internal readonly unsafe struct ScalarMicroKernel : IMicroKernel
{
    public static int Rows => 4;
    public static int Columns => 4;

    // Fully optimized from the first call: a tier-0 micro-kernel runs an order of magnitude slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, bool addToC)
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            a += 4;
            b += ldb;
        }
        StoreRow(c, c00, c01, c02, c03, addToC);
        StoreRow(c + ldc, c10, c11, c12, c13, addToC);
        StoreRow(c + 2 * ldc, c20, c21, c22, c23, addToC);
        StoreRow(c + 3 * ldc, c30, c31, c32, c33, addToC);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* row, float v0, float v1, float v2, float v3, bool addToC)
    {
        if (addToC) { row[0] += v0; row[1] += v1; row[2] += v2; row[3] += v3; }
        else { row[0] = v0; row[1] = v1; row[2] = v2; row[3] = v3; }
    }
}
