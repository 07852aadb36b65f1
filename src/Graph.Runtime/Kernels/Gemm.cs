using System;
using System.Runtime.InteropServices;

namespace Graph.Runtime.Kernels;

/// <summary>
/// Single-precision matrix multiplication for row-major matrices: packed panels, cache blocking and an FMA
/// register-tile micro-kernel per instruction set (see <see cref="KernelIsa"/>), split across
/// <see cref="WorkerPool"/> threads. Results are bit-identical run to run and for any thread count: work is
/// split over output tiles only, and every output element's sum is formed in the same order.
/// Steady-state calls allocate nothing.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>
    /// <c>C = op(A) · op(B)</c>, or <c>C += op(A) · op(B)</c> when <paramref name="accumulate"/>, then
    /// <paramref name="epilogue"/> over every element of C. op(A) is m×k and op(B) is k×n.
    /// </summary>
    /// <param name="transA"><see cref="Transpose.None"/>: A is stored m×k; <see cref="Transpose.Transposed"/>: k×m.</param>
    /// <param name="transB"><see cref="Transpose.None"/>: B is stored k×n; <see cref="Transpose.Transposed"/>: n×k.</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">The summed dimension.</param>
    /// <param name="a">A, row-major, <paramref name="lda"/> floats between row starts.</param>
    /// <param name="lda">Leading dimension of A as stored (at least its stored row length).</param>
    /// <param name="b">B, row-major, <paramref name="ldb"/> floats between row starts.</param>
    /// <param name="ldb">Leading dimension of B as stored.</param>
    /// <param name="c">C (m×n), row-major, <paramref name="ldc"/> floats between row starts.</param>
    /// <param name="ldc">Leading dimension of C (at least n).</param>
    /// <param name="accumulate">Add the product to C's contents instead of overwriting them.</param>
    /// <param name="epilogue">Applied to each finished run of C elements while still in cache.</param>
    public static void Multiply<TEpilogue>(Transpose transA, Transpose transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc,
        bool accumulate, in TEpilogue epilogue) where TEpilogue : struct, IEpilogue
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        bool aTransposed = transA == Transpose.Transposed, bTransposed = transB == Transpose.Transposed;
        CheckOperand(a.Length, aTransposed ? k : m, aTransposed ? m : k, lda, nameof(a));
        CheckOperand(b.Length, bTransposed ? n : k, bTransposed ? k : n, ldb, nameof(b));
        CheckOperand(c.Length, m, n, ldc, nameof(c));
        fixed (float* aPointer = a)
        fixed (float* bPointer = b)
        fixed (float* cPointer = c)
        {
            var problem = new GemmProblem(transA, transB, m, n, k, aPointer, lda, bPointer, ldb, cPointer, ldc, accumulate);
            MultiplyUnchecked(problem, epilogue, KernelIsaSelector.Current, allowParallel: true);
        }
    }

    /// <summary><c>C = op(A) · op(B)</c> (or <c>+=</c> when <paramref name="accumulate"/>) without an epilogue; see the generic overload.</summary>
    public static void Multiply(Transpose transA, Transpose transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate = false) =>
        Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, new NoEpilogue());

    /// <summary>
    /// The product on raw pointers, for kernels built on GEMM, with the instruction set chosen by the caller (kernels
    /// running on pool workers pass on the level read on the thread that called them). <paramref name="allowParallel"/>
    /// false keeps it on the calling thread (used when the caller already splits its work across the pool).
    /// </summary>
    internal static void MultiplyUnchecked<TEpilogue>(in GemmProblem problem, in TEpilogue epilogue, KernelIsa isa, bool allowParallel)
        where TEpilogue : struct, IEpilogue
    {
        if (problem.M == 0 || problem.N == 0) return;
        if (problem.K == 0)
        {
            FinishEmptyProduct(problem, epilogue);
            return;
        }
        if (problem.M == 1 || problem.N == 1)
        {
            MatrixVector.Multiply(AsMatrixVector(problem), epilogue, isa, allowParallel);
            return;
        }
        if (NarrowProduct(problem, epilogue, isa, allowParallel)) return;
        switch (isa)
        {
            case KernelIsa.Avx512 when PreferWideTile(problem.M, problem.N):
                GemmDriver<Avx512WideMicroKernel, TEpilogue>.Multiply(problem, epilogue, GemmBlocking.Avx512Wide, allowParallel); break;
            case KernelIsa.Avx512: GemmDriver<Avx512MicroKernel, TEpilogue>.Multiply(problem, epilogue, GemmBlocking.Avx512, allowParallel); break;
            case KernelIsa.Avx2: GemmDriver<Avx2MicroKernel, TEpilogue>.Multiply(problem, epilogue, GemmBlocking.Avx2, allowParallel); break;
            case KernelIsa.Vector: GemmDriver<PortableVectorMicroKernel, TEpilogue>.Multiply(problem, epilogue, GemmBlocking.Portable, allowParallel); break;
            default: GemmDriver<ScalarMicroKernel, TEpilogue>.Multiply(problem, epilogue, GemmBlocking.Scalar, allowParallel); break;
        }
    }

    /// <summary>
    /// Products at most two vectors wide (N ≤ 32 floats with AVX-512, 16 with AVX2) go through <see cref="GemmNarrow"/>,
    /// which skips packing A; the packed kernels' tiles are 32-64 columns wide, so for such N they would compute mostly
    /// padding, or pack everything to compute the product transposed.
    /// </summary>
    private static bool NarrowProduct<TEpilogue>(in GemmProblem problem, in TEpilogue epilogue, KernelIsa isa, bool allowParallel)
        where TEpilogue : struct, IEpilogue
    {
        int kc = BlockingFor(isa).Kc;
        switch (isa)
        {
            case KernelIsa.Avx512 when GemmNarrow.Handles(problem.N, Simd512.Count):
                GemmNarrow.Multiply<Simd512, System.Runtime.Intrinsics.Vector512<float>, TEpilogue>(problem, epilogue, kc, allowParallel); return true;
            case KernelIsa.Avx2 when GemmNarrow.Handles(problem.N, Simd256.Count):
                GemmNarrow.Multiply<Simd256, System.Runtime.Intrinsics.Vector256<float>, TEpilogue>(problem, epilogue, kc, allowParallel); return true;
            case KernelIsa.Vector when GemmNarrow.Handles(problem.N, SimdPortable.Count):
                GemmNarrow.Multiply<SimdPortable, System.Numerics.Vector<float>, TEpilogue>(problem, epilogue, kc, allowParallel); return true;
            case KernelIsa.Scalar when GemmNarrow.Handles(problem.N, SimdScalar.Count):
                GemmNarrow.Multiply<SimdScalar, float, TEpilogue>(problem, epilogue, kc, allowParallel); return true;
            default: return false;
        }
    }

    /// <summary>The packed path's cache blocking per instruction set (the narrow path shares its k blocks).</summary>
    private static GemmBlocking BlockingFor(KernelIsa isa) => isa switch
    {
        KernelIsa.Avx512 => GemmBlocking.Avx512,
        KernelIsa.Avx2 => GemmBlocking.Avx2,
        KernelIsa.Vector => GemmBlocking.Portable,
        _ => GemmBlocking.Scalar,
    };

    /// <summary>
    /// Floats that <see cref="Prepack"/> writes for op(A) (<paramref name="operandA"/>) or op(B) of an m×n×k product
    /// with any kernel: at most 12 rows or 64 columns of padding per k step.
    /// </summary>
    internal static long PackedLength(int m, int n, int k, bool operandA) => (long)k * (operandA ? m + 12 : n + 64);

    /// <summary>
    /// Packs op(A) (<paramref name="operandA"/>) or op(B) of <paramref name="problem"/> whole, in the layout the
    /// micro-kernel that <see cref="MultiplyUnchecked"/> picks for this shape and <paramref name="isa"/> streams
    /// through, into <paramref name="packed"/> (<see cref="PackedLength"/> floats); pass it on as
    /// <see cref="GemmProblem.PackedA"/> or <see cref="GemmProblem.PackedB"/> of products of the same shape.
    /// </summary>
    internal static void Prepack(in GemmProblem problem, KernelIsa isa, bool operandA, float* packed)
    {
        switch (isa)
        {
            case KernelIsa.Avx512 when PreferWideTile(problem.M, problem.N):
                GemmDriver<Avx512WideMicroKernel, NoEpilogue>.PackWhole(problem, GemmBlocking.Avx512Wide, operandA, packed); break;
            case KernelIsa.Avx512: GemmDriver<Avx512MicroKernel, NoEpilogue>.PackWhole(problem, GemmBlocking.Avx512, operandA, packed); break;
            case KernelIsa.Avx2: GemmDriver<Avx2MicroKernel, NoEpilogue>.PackWhole(problem, GemmBlocking.Avx2, operandA, packed); break;
            case KernelIsa.Vector: GemmDriver<PortableVectorMicroKernel, NoEpilogue>.PackWhole(problem, GemmBlocking.Portable, operandA, packed); break;
            default: GemmDriver<ScalarMicroKernel, NoEpilogue>.PackWhole(problem, GemmBlocking.Scalar, operandA, packed); break;
        }
    }

    /// <summary>
    /// Whether a <see cref="Prepack"/> of op(B) for an m1×n product also serves an m2×n one (same n and k): the
    /// micro-kernel, hence the packed layout, can depend on the row count.
    /// </summary>
    internal static bool SharesPackedB(int m1, int m2, int n, KernelIsa isa) =>
        isa != KernelIsa.Avx512 || PreferWideTile(m1, n) == PreferWideTile(m2, n);

    /// <summary>
    /// The area of the tile grid that <see cref="MultiplyUnchecked"/> computes for an m×n product (m×n plus the
    /// padding of its edge tiles), for callers that can choose between computing C and Cᵀ.
    /// </summary>
    internal static long PaddedTileArea(int m, int n, KernelIsa isa) => isa switch
    {
        KernelIsa.Avx512 when PreferWideTile(m, n) => PaddedArea<Avx512WideMicroKernel>(m, n),
        KernelIsa.Avx512 => PaddedArea<Avx512MicroKernel>(m, n),
        KernelIsa.Avx2 => PaddedArea<Avx2MicroKernel>(m, n),
        KernelIsa.Vector => PaddedArea<PortableVectorMicroKernel>(m, n),
        _ => PaddedArea<ScalarMicroKernel>(m, n),
    };

    private static long PaddedArea<TKernel>(int m, int n) where TKernel : struct, IMicroKernel =>
        (long)((m + TKernel.Rows - 1) / TKernel.Rows * TKernel.Rows) * ((n + TKernel.Columns - 1) / TKernel.Columns * TKernel.Columns);

    /// <summary>
    /// Few rows (e.g. a convolution's output channels): the 6×64 tile when it pads at most 80 % of the 12×32 tile's
    /// area. Both form every sum in the same order, so the choice does not change results.
    /// </summary>
    private static bool PreferWideTile(int m, int n)
    {
        static long RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * (long)multiple;
        return 5 * RoundUp(m, 6) * RoundUp(n, 64) <= 4 * RoundUp(m, 12) * RoundUp(n, 32);
    }

    private static void CheckOperand(int length, int rows, int cols, int ld, string name)
    {
        if (ld < cols)
            throw new ArgumentOutOfRangeException(name, $"Leading dimension {ld} is smaller than the stored row length {cols}.");
        long needed = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (length < needed)
            throw new ArgumentException($"Needs at least {needed} elements for {rows}×{cols} with leading dimension {ld}, got {length}.", name);
    }

    /// <summary>k == 0: the product is zero, so C is cleared (or kept when accumulating) and finished.</summary>
    private static void FinishEmptyProduct<TEpilogue>(in GemmProblem problem, in TEpilogue epilogue)
        where TEpilogue : struct, IEpilogue
    {
        TEpilogue finish = epilogue;
        for (int row = 0; row < problem.M; row++)
        {
            var values = new Span<float>(problem.C + row * problem.Ldc, problem.N);
            if (!problem.Accumulate) values.Clear();
            finish.Apply(values, row, 0);
        }
    }

    private static MatrixVector.Problem AsMatrixVector(in GemmProblem p)
    {
        bool aTransposed = p.TransA == Transpose.Transposed, bTransposed = p.TransB == Transpose.Transposed;
        if (p.M == 1)
        {
            // y = row 0 of C; x = row 0 of op(A); M[j, q] = op(B)[q, j].
            return new MatrixVector.Problem
            {
                Length = p.N, K = p.K, Matrix = p.B, Ld = p.Ldb, RowsContiguous = bTransposed,
                X = p.A, XStride = aTransposed ? p.Lda : 1, Y = p.C, YStride = 1,
                Accumulate = p.Accumulate, OutputIsRow = true,
            };
        }
        // y = column 0 of C; x = column 0 of op(B); M[i, q] = op(A)[i, q].
        return new MatrixVector.Problem
        {
            Length = p.M, K = p.K, Matrix = p.A, Ld = p.Lda, RowsContiguous = !aTransposed,
            X = p.B, XStride = bTransposed ? 1 : p.Ldb, Y = p.C, YStride = p.Ldc,
            Accumulate = p.Accumulate, OutputIsRow = false,
        };
    }
}

/// <summary>One GEMM call's operands as raw pointers (the caller keeps them pinned for the call).</summary>
[StructLayout(LayoutKind.Auto)]
internal readonly unsafe struct GemmProblem(Transpose transA, Transpose transB, int m, int n, int k,
    float* a, nint lda, float* b, nint ldb, float* c, nint ldc, bool accumulate)
{
    public readonly Transpose TransA = transA, TransB = transB;
    public readonly int M = m, N = n, K = k;
    public readonly float* A = a, B = b, C = c;
    public readonly nint Lda = lda, Ldb = ldb, Ldc = ldc;
    public readonly bool Accumulate = accumulate;

    /// <summary>
    /// Optional: op(A) already packed by <see cref="Gemm.Prepack"/> for this problem's shape and instruction set, so
    /// that products sharing an operand (a convolution's weights, image after image) pack it once. Paths that do not
    /// use packed panels read <see cref="A"/> as usual.
    /// </summary>
    public float* PackedA { get; init; }

    /// <summary>Optional: op(B) already packed by <see cref="Gemm.Prepack"/> (see <see cref="PackedA"/>).</summary>
    public float* PackedB { get; init; }
}
