using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Graph.Runtime.Kernels;

/// <summary>
/// Unfolds an image into the convolution's patch matrix and folds it back. The patch matrix has one row per
/// (channel, ky, kx) and one column per output position: <c>col[(c·KH + ky)·KW + kx, oy·OW + ox] =
/// image[c, oy·SH − PH + ky, ox·SW − PW + kx]</c>, zero where that falls in the padding.
/// </summary>
internal static unsafe class Im2Col
{
    /// <summary>Writes the patch matrix (PatchLength × OutSpatial) of one image.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Unfold(in Conv2dShape s, float* image, float* columns)
    {
        int outHeight = s.OutHeight, outWidth = s.OutWidth;
        float* destination = columns;
        for (int c = 0; c < s.Channels; c++)
            for (int ky = 0; ky < s.KernelH; ky++)
                for (int kx = 0; kx < s.KernelW; kx++)
                {
                    ValidColumns(s, kx, outWidth, out int first, out int end);
                    for (int oy = 0; oy < outHeight; oy++, destination += outWidth)
                    {
                        int iy = oy * s.StrideH - s.PadH + ky;
                        if (iy < 0 || iy >= s.Height) { Fill(destination, 0, outWidth); continue; }
                        float* source = image + ((nint)c * s.Height + iy) * s.Width - s.PadW + kx;
                        Fill(destination, 0, first);
                        Fill(destination, end, outWidth);
                        if (s.StrideW == 1) Copy(source + first, destination + first, end - first);
                        else for (int ox = first; ox < end; ox++) destination[ox] = source[ox * s.StrideW];
                    }
                }
    }

    /// <summary>Adds the patch matrix of one image back onto the image (the adjoint of <see cref="Unfold"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FoldAdd(in Conv2dShape s, float* columns, float* image)
    {
        int outHeight = s.OutHeight, outWidth = s.OutWidth;
        float* source = columns;
        for (int c = 0; c < s.Channels; c++)
            for (int ky = 0; ky < s.KernelH; ky++)
                for (int kx = 0; kx < s.KernelW; kx++)
                {
                    ValidColumns(s, kx, outWidth, out int first, out int end);
                    for (int oy = 0; oy < outHeight; oy++, source += outWidth)
                    {
                        int iy = oy * s.StrideH - s.PadH + ky;
                        if (iy < 0 || iy >= s.Height || first >= end) continue;
                        float* destination = image + ((nint)c * s.Height + iy) * s.Width - s.PadW + kx;
                        if (s.StrideW == 1 && end - first >= LongRun)
                        {
                            var target = new Span<float>(destination + first, end - first);
                            TensorPrimitives.Add(target, new ReadOnlySpan<float>(source + first, end - first), target);
                        }
                        else if (s.StrideW == 1)
                            for (int ox = first; ox < end; ox++) destination[ox] += source[ox];
                        else
                            for (int ox = first; ox < end; ox++) destination[ox * s.StrideW] += source[ox];
                    }
                }
    }

    // Image rows in small networks are short (10-28 values); below this length a plain loop beats the setup cost
    // of a vectorized span operation.
    private const int LongRun = 32;

    /// <summary>
    /// Copies a run of any length with at most two (overlapping) vector moves for short runs, the way memcpy does:
    /// per-run call overhead, not bandwidth, is what im2col of small images pays for.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Copy(float* source, float* destination, int count)
    {
        if (count >= LongRun) Unsafe.CopyBlockUnaligned(destination, source, (uint)count * sizeof(float));
        else if (count >= 16 && Vector512.IsHardwareAccelerated)
        {
            Vector512<float> head = Vector512.Load(source), tail = Vector512.Load(source + count - 16);
            head.Store(destination);
            tail.Store(destination + count - 16);
        }
        else if (count >= 8 && Vector256.IsHardwareAccelerated)
        {
            Vector256<float> head = Vector256.Load(source), tail = Vector256.Load(source + count - 8);
            head.Store(destination);
            tail.Store(destination + count - 8);
        }
        else if (count >= 4 && Vector128.IsHardwareAccelerated)
        {
            Vector128<float> head = Vector128.Load(source), tail = Vector128.Load(source + count - 4);
            head.Store(destination);
            tail.Store(destination + count - 4);
        }
        else for (int i = 0; i < count; i++) destination[i] = source[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fill(float* row, int start, int end)
    {
        if (end - start >= LongRun) new Span<float>(row + start, end - start).Clear();
        else for (int i = start; i < end; i++) row[i] = 0;
    }

    /// <summary>The output columns [first, end) whose input column for kernel column kx lies inside the image.</summary>
    private static void ValidColumns(in Conv2dShape s, int kx, int outWidth, out int first, out int end)
    {
        // Input column of output column ox is ox·SW − PW + kx; keep those in [0, Width).
        int lowest = s.PadW - kx;
        first = lowest <= 0 ? 0 : (lowest + s.StrideW - 1) / s.StrideW;
        int highest = s.Width - 1 + s.PadW - kx;
        end = highest < 0 ? 0 : Math.Min(outWidth, highest / s.StrideW + 1);
        first = Math.Min(first, end);
    }
}
