using System;
using System.Runtime.CompilerServices;

namespace Graph.Runtime.Kernels;

/// <summary>
/// Copies blocks of the GEMM operands into the layout the micro-kernels stream through: A as micro-panels of
/// MR rows stored k-major (MR values per k step), B as micro-panels of NR columns stored k-major (NR values per
/// k step). Partial panels are zero-padded so that the micro-kernel never needs an edge case.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs rows [row0, row0+rows) and k range [k0, k0+kc) of op(A) into MR-row micro-panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(int mr, Transpose transA, float* a, nint lda, int row0, int rows, int k0, int kc, float* packed)
    {
        for (int panelRow = 0; panelRow < rows; panelRow += mr)
        {
            int panelRows = Math.Min(mr, rows - panelRow);
            float* destination = packed + (nint)panelRow * kc;
            if (transA == Transpose.None)
            {
                // A[i, p] = a[i·lda + p]: read each row contiguously, scatter with stride MR.
                for (int r = 0; r < panelRows; r++)
                {
                    float* source = a + (row0 + panelRow + r) * lda + k0;
                    for (int p = 0; p < kc; p++) destination[p * mr + r] = source[p];
                }
                ZeroTail(destination, mr, panelRows, kc);
            }
            else
            {
                // A[i, p] = a[p·lda + i]: each k step is already a contiguous run of rows.
                for (int p = 0; p < kc; p++)
                {
                    float* source = a + (k0 + p) * lda + row0 + panelRow;
                    float* step = destination + p * mr;
                    new ReadOnlySpan<float>(source, panelRows).CopyTo(new Span<float>(step, panelRows));
                    if (panelRows < mr) new Span<float>(step + panelRows, mr - panelRows).Clear();
                }
            }
        }
    }

    /// <summary>Packs k range [k0, k0+kc) and columns [col0, col0+cols) of op(B) into NR-column micro-panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(int nr, Transpose transB, float* b, nint ldb, int k0, int kc, int col0, int cols, float* packed)
    {
        for (int panelCol = 0; panelCol < cols; panelCol += nr)
        {
            int panelCols = Math.Min(nr, cols - panelCol);
            float* destination = packed + (nint)panelCol * kc;
            if (transB == Transpose.None)
            {
                // B[p, j] = b[p·ldb + j]: each k step is a contiguous run of columns.
                for (int p = 0; p < kc; p++)
                {
                    float* source = b + (k0 + p) * ldb + col0 + panelCol;
                    float* step = destination + p * nr;
                    if (panelCols == nr) CopyFullStep(source, step, nr);
                    else
                    {
                        new ReadOnlySpan<float>(source, panelCols).CopyTo(new Span<float>(step, panelCols));
                        new Span<float>(step + panelCols, nr - panelCols).Clear();
                    }
                }
            }
            else
            {
                // B[p, j] = b[j·ldb + p]: read each stored row contiguously, scatter with stride NR.
                for (int j = 0; j < panelCols; j++)
                {
                    float* source = b + (col0 + panelCol + j) * ldb + k0;
                    for (int p = 0; p < kc; p++) destination[p * nr + j] = source[p];
                }
                ZeroTail(destination, nr, panelCols, kc);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyFullStep(float* source, float* destination, int count) =>
        Unsafe.CopyBlockUnaligned(destination, source, (uint)(count * sizeof(float)));

    /// <summary>Zeroes lanes [used, width) of every k step of a micro-panel.</summary>
    private static void ZeroTail(float* panel, int width, int used, int kc)
    {
        if (used == width) return;
        for (int p = 0; p < kc; p++) new Span<float>(panel + p * width + used, width - used).Clear();
    }
}
