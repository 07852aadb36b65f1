using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Graph.Runtime.Kernels;

/// <summary>
/// Copies blocks of the GEMM operands into the layout the micro-kernels stream through: A as micro-panels of
/// MR rows stored k-major (MR values per k step), B as micro-panels of NR columns stored k-major (NR values per
/// k step). Partial panels are zero-padded so that the micro-kernel never needs an edge case.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs rows [row0, row0+rows) and k range [k0, k0+kc) of op(A) into MR-row micro-panels.</summary>
    public static void PackA(int mr, Transpose transA, float* a, nint lda, int row0, int rows, int k0, int kc, float* packed)
    {
        // A[i, p] = a[p·lda + i]: each k step is already a contiguous run of rows.
        if (transA == Transpose.Transposed)
        {
            PackRuns(a, lda, k0, kc, row0, rows, mr, packed);
            return;
        }
        for (int panelRow = 0; panelRow < rows; panelRow += mr)
        {
            int panelRows = Math.Min(mr, rows - panelRow);
            float* destination = packed + (nint)panelRow * kc;
            // A[i, p] = a[i·lda + p]: a transpose of the panel's rows into k-major order.
            TransposeBlock(a + (row0 + panelRow) * lda + k0, lda, destination, mr, panelRows, kc);
            ZeroTail(destination, mr, panelRows, kc);
        }
    }

    /// <summary>Packs k range [k0, k0+kc) and columns [col0, col0+cols) of op(B) into NR-column micro-panels.</summary>
    public static void PackB(int nr, Transpose transB, float* b, nint ldb, int k0, int kc, int col0, int cols, float* packed)
    {
        // B[p, j] = b[p·ldb + j]: each k step is a contiguous run of columns.
        if (transB == Transpose.None)
        {
            PackRuns(b, ldb, k0, kc, col0, cols, nr, packed);
            return;
        }
        for (int panelCol = 0; panelCol < cols; panelCol += nr)
        {
            int panelCols = Math.Min(nr, cols - panelCol);
            float* destination = packed + (nint)panelCol * kc;
            // B[p, j] = b[j·ldb + p]: a transpose of the panel's stored rows into k-major order.
            TransposeBlock(b + (col0 + panelCol) * ldb + k0, ldb, destination, nr, panelCols, kc);
            ZeroTail(destination, nr, panelCols, kc);
        }
    }

    /// <summary>
    /// Packs an operand whose k steps are contiguous runs (A transposed, B not): step p's values
    /// <c>source[(k0 + p)·ld + start ..][..length]</c> go to the micro-panels of <paramref name="width"/> lanes, the
    /// last one zero-padded. Each source row is read once, front to back, while the panels fill side by side (reading
    /// one panel's column of steps at a time would stride through the rows once per panel).
    /// </summary>
    private static void PackRuns(float* source, nint ld, int k0, int kc, int start, int length, int width, float* packed)
    {
        int fullPanels = length / width, rest = length - fullPanels * width;
        nint panelStride = (nint)width * kc;
        for (int p = 0; p < kc; p++)
        {
            float* run = source + (k0 + p) * ld + start;
            float* step = packed + (nint)p * width;
            for (int panel = 0; panel < fullPanels; panel++, run += width, step += panelStride)
                ShortCopy.Copy(run, step, width);
            if (rest == 0) continue;
            new ReadOnlySpan<float>(run, rest).CopyTo(new Span<float>(step, rest));
            new Span<float>(step + rest, width - rest).Clear();
        }
    }

    /// <summary>
    /// <c>destination[p·destinationStride + r] = source[r·sourceStride + p]</c> for r &lt; rows, p &lt; cols: with
    /// AVX-512, 16×16 tiles transposed in registers, the edge tiles through masked loads and stores; otherwise 8×8
    /// blocks (AVX), then 4×4 blocks (SSE), the edges element by element. A pure copy, so packing stays exact (and
    /// every path gives the same result; the calling thread's <see cref="KernelIsaSelector.Current"/> picks one, so
    /// that tests can reach each).
    /// </summary>
    internal static void TransposeBlock(float* source, nint sourceStride, float* destination, nint destinationStride, int rows, int cols)
    {
        if (Avx512F.IsSupported && KernelIsaSelector.Current == KernelIsa.Avx512)
        {
            for (int tileRow = 0; tileRow < rows; tileRow += 16)
                for (int tileCol = 0; tileCol < cols; tileCol += 16)
                    Transpose16x16(source + tileRow * sourceStride + tileCol, sourceStride, destination + tileCol * destinationStride + tileRow,
                        destinationStride, Math.Min(16, rows - tileRow), Math.Min(16, cols - tileCol));
            return;
        }
        int r0 = 0;
        if (Avx.IsSupported)
        {
            for (; r0 <= rows - 8; r0 += 8)
            {
                float* s = source + r0 * sourceStride;
                float* d = destination + r0;
                int p0 = 0;
                for (; p0 <= cols - 8; p0 += 8)
                    Transpose8x8(s + p0, sourceStride, d + p0 * destinationStride, destinationStride);
                for (int r = 0; r < 8; r++)
                    for (int p = p0; p < cols; p++) d[p * destinationStride + r] = s[r * sourceStride + p];
            }
        }
        if (Sse.IsSupported)
        {
            // A 4-row remainder (e.g. a 12-row micro-panel's last third) in 4×4 blocks.
            for (; r0 <= rows - 4; r0 += 4)
            {
                float* s = source + r0 * sourceStride;
                float* d = destination + r0;
                int p0 = 0;
                for (; p0 <= cols - 4; p0 += 4)
                    Transpose4x4(s + p0, sourceStride, d + p0 * destinationStride, destinationStride);
                for (int r = 0; r < 4; r++)
                    for (int p = p0; p < cols; p++) d[p * destinationStride + r] = s[r * sourceStride + p];
            }
        }
        for (int r = r0; r < rows; r++)
        {
            float* s = source + r * sourceStride;
            for (int p = 0; p < cols; p++) destination[p * destinationStride + r] = s[p];
        }
    }

    /// <summary>
    /// One tile of <see cref="TransposeBlock"/>: rows r &lt; <paramref name="rows"/> (≤ 16) of <paramref name="cols"/>
    /// (≤ 16) floats, read and written with masks so that nothing outside the tile is touched.
    /// </summary>
    private static void Transpose16x16(float* s, nint sourceStride, float* d, nint destinationStride, int rows, int cols)
    {
        // Rows past the tile are zero; each loads only the tile's columns.
        Vector512<float> r0 = TileRow(s, sourceStride, 0, rows, cols), r1 = TileRow(s, sourceStride, 1, rows, cols);
        Vector512<float> r2 = TileRow(s, sourceStride, 2, rows, cols), r3 = TileRow(s, sourceStride, 3, rows, cols);
        Vector512<float> r4 = TileRow(s, sourceStride, 4, rows, cols), r5 = TileRow(s, sourceStride, 5, rows, cols);
        Vector512<float> r6 = TileRow(s, sourceStride, 6, rows, cols), r7 = TileRow(s, sourceStride, 7, rows, cols);
        Vector512<float> r8 = TileRow(s, sourceStride, 8, rows, cols), r9 = TileRow(s, sourceStride, 9, rows, cols);
        Vector512<float> r10 = TileRow(s, sourceStride, 10, rows, cols), r11 = TileRow(s, sourceStride, 11, rows, cols);
        Vector512<float> r12 = TileRow(s, sourceStride, 12, rows, cols), r13 = TileRow(s, sourceStride, 13, rows, cols);
        Vector512<float> r14 = TileRow(s, sourceStride, 14, rows, cols), r15 = TileRow(s, sourceStride, 15, rows, cols);
        // Pairs of rows interleaved, then within each 128-bit lane L: u[4m + c] holds column 4L + c of rows 4m..4m+3.
        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1);
        Vector512<float> t2 = Avx512F.UnpackLow(r2, r3), t3 = Avx512F.UnpackHigh(r2, r3);
        Vector512<float> t4 = Avx512F.UnpackLow(r4, r5), t5 = Avx512F.UnpackHigh(r4, r5);
        Vector512<float> t6 = Avx512F.UnpackLow(r6, r7), t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<float> t8 = Avx512F.UnpackLow(r8, r9), t9 = Avx512F.UnpackHigh(r8, r9);
        Vector512<float> t10 = Avx512F.UnpackLow(r10, r11), t11 = Avx512F.UnpackHigh(r10, r11);
        Vector512<float> t12 = Avx512F.UnpackLow(r12, r13), t13 = Avx512F.UnpackHigh(r12, r13);
        Vector512<float> t14 = Avx512F.UnpackLow(r14, r15), t15 = Avx512F.UnpackHigh(r14, r15);
        Vector512<float> u0 = Avx512F.Shuffle(t0, t2, 0x44), u1 = Avx512F.Shuffle(t0, t2, 0xEE);
        Vector512<float> u2 = Avx512F.Shuffle(t1, t3, 0x44), u3 = Avx512F.Shuffle(t1, t3, 0xEE);
        Vector512<float> u4 = Avx512F.Shuffle(t4, t6, 0x44), u5 = Avx512F.Shuffle(t4, t6, 0xEE);
        Vector512<float> u6 = Avx512F.Shuffle(t5, t7, 0x44), u7 = Avx512F.Shuffle(t5, t7, 0xEE);
        Vector512<float> u8 = Avx512F.Shuffle(t8, t10, 0x44), u9 = Avx512F.Shuffle(t8, t10, 0xEE);
        Vector512<float> u10 = Avx512F.Shuffle(t9, t11, 0x44), u11 = Avx512F.Shuffle(t9, t11, 0xEE);
        Vector512<float> u12 = Avx512F.Shuffle(t12, t14, 0x44), u13 = Avx512F.Shuffle(t12, t14, 0xEE);
        Vector512<float> u14 = Avx512F.Shuffle(t13, t15, 0x44), u15 = Avx512F.Shuffle(t13, t15, 0xEE);
        // Column 4L + c is lane L of u[c], u[4 + c], u[8 + c], u[12 + c]: gathered by two rounds of 128-bit lane shuffles.
        TileColumns(u0, u4, u8, u12, d, destinationStride, 0, rows, cols);
        TileColumns(u1, u5, u9, u13, d, destinationStride, 1, rows, cols);
        TileColumns(u2, u6, u10, u14, d, destinationStride, 2, rows, cols);
        TileColumns(u3, u7, u11, u15, d, destinationStride, 3, rows, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> TileRow(float* s, nint stride, int row, int rows, int cols) =>
        row < rows ? Simd512.LoadFirst(s + row * stride, cols) : Vector512<float>.Zero;

    /// <summary>Writes columns c, 4 + c, 8 + c and 12 + c of a tile (those below <paramref name="cols"/>) as rows of the destination.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TileColumns(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> e,
        float* d, nint stride, int column, int rows, int cols)
    {
        Vector512<float> even0 = Avx512F.Shuffle4x128(a, b, 0x88), odd0 = Avx512F.Shuffle4x128(a, b, 0xDD);
        Vector512<float> even1 = Avx512F.Shuffle4x128(c, e, 0x88), odd1 = Avx512F.Shuffle4x128(c, e, 0xDD);
        if (column < cols) Simd512.StoreFirst(Avx512F.Shuffle4x128(even0, even1, 0x88), d + column * stride, rows);
        if (column + 4 < cols) Simd512.StoreFirst(Avx512F.Shuffle4x128(odd0, odd1, 0x88), d + (column + 4) * stride, rows);
        if (column + 8 < cols) Simd512.StoreFirst(Avx512F.Shuffle4x128(even0, even1, 0xDD), d + (column + 8) * stride, rows);
        if (column + 12 < cols) Simd512.StoreFirst(Avx512F.Shuffle4x128(odd0, odd1, 0xDD), d + (column + 12) * stride, rows);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x4(float* s, nint sourceStride, float* d, nint destinationStride)
    {
        Vector128<float> a0 = Sse.LoadVector128(s), a1 = Sse.LoadVector128(s + sourceStride);
        Vector128<float> a2 = Sse.LoadVector128(s + 2 * sourceStride), a3 = Sse.LoadVector128(s + 3 * sourceStride);
        Vector128<float> t0 = Sse.UnpackLow(a0, a1), t1 = Sse.UnpackHigh(a0, a1);
        Vector128<float> t2 = Sse.UnpackLow(a2, a3), t3 = Sse.UnpackHigh(a2, a3);
        Sse.Store(d, Sse.MoveLowToHigh(t0, t2));
        Sse.Store(d + destinationStride, Sse.MoveHighToLow(t2, t0));
        Sse.Store(d + 2 * destinationStride, Sse.MoveLowToHigh(t1, t3));
        Sse.Store(d + 3 * destinationStride, Sse.MoveHighToLow(t3, t1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* s, nint sourceStride, float* d, nint destinationStride)
    {
        Vector256<float> a0 = Avx.LoadVector256(s), a1 = Avx.LoadVector256(s + sourceStride);
        Vector256<float> a2 = Avx.LoadVector256(s + 2 * sourceStride), a3 = Avx.LoadVector256(s + 3 * sourceStride);
        Vector256<float> a4 = Avx.LoadVector256(s + 4 * sourceStride), a5 = Avx.LoadVector256(s + 5 * sourceStride);
        Vector256<float> a6 = Avx.LoadVector256(s + 6 * sourceStride), a7 = Avx.LoadVector256(s + 7 * sourceStride);
        Vector256<float> t0 = Avx.UnpackLow(a0, a1), t1 = Avx.UnpackHigh(a0, a1);
        Vector256<float> t2 = Avx.UnpackLow(a2, a3), t3 = Avx.UnpackHigh(a2, a3);
        Vector256<float> t4 = Avx.UnpackLow(a4, a5), t5 = Avx.UnpackHigh(a4, a5);
        Vector256<float> t6 = Avx.UnpackLow(a6, a7), t7 = Avx.UnpackHigh(a6, a7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + destinationStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2 * destinationStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3 * destinationStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4 * destinationStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5 * destinationStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6 * destinationStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7 * destinationStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>Zeroes lanes [used, width) of every k step of a micro-panel.</summary>
    internal static void ZeroTail(float* panel, int width, int used, int kc)
    {
        if (used == width) return;
        for (int p = 0; p < kc; p++) new Span<float>(panel + p * width + used, width - used).Clear();
    }
}
