using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

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
                        var row = new Span<float>(destination, outWidth);
                        if (iy < 0 || iy >= s.Height) { row.Clear(); continue; }
                        float* source = image + ((nint)c * s.Height + iy) * s.Width - s.PadW + kx;
                        row[..first].Clear();
                        row[end..].Clear();
                        if (s.StrideW == 1)
                            new ReadOnlySpan<float>(source + first, end - first).CopyTo(row[first..end]);
                        else
                            for (int ox = first; ox < end; ox++) row[ox] = source[ox * s.StrideW];
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
                        if (s.StrideW == 1)
                        {
                            var target = new Span<float>(destination + first, end - first);
                            TensorPrimitives.Add(target, new ReadOnlySpan<float>(source + first, end - first), target);
                        }
                        else
                            for (int ox = first; ox < end; ox++) destination[ox * s.StrideW] += source[ox];
                    }
                }
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
