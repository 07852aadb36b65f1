using System;
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
    /// <summary>
    /// Writes the patch matrix (PatchLength × OutSpatial) of one image. With unit horizontal stride each row is
    /// written as whole vectors whose padding lanes are zeroed, spilling past the row's end into the next row (written
    /// after it) or into the buffer's <see cref="ReadSlack"/>.
    /// </summary>
    public static void Unfold(in Conv2dShape s, float* image, float* columns, KernelIsa isa)
    {
        if (s.StrideW != 1)
        {
            UnfoldStrided(s, image, columns);
            return;
        }
        switch (isa)
        {
            case KernelIsa.Avx512: UnfoldUnitStride<Simd512, Vector512<float>>(s, image, columns); break;
            case KernelIsa.Avx2: UnfoldUnitStride<Simd256, Vector256<float>>(s, image, columns); break;
            case KernelIsa.Vector: UnfoldUnitStride<SimdPortable, System.Numerics.Vector<float>>(s, image, columns); break;
            default: UnfoldUnitStride<SimdScalar, float>(s, image, columns); break;
        }
    }

    private static void UnfoldUnitStride<TSimd, TVector>(in Conv2dShape s, float* image, float* columns)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        int width = TSimd.Count;
        int outHeight = s.OutHeight, outWidth = s.OutWidth;
        float* imageEnd = image + s.InputImageLength;
        float* destination = columns;
        for (int c = 0; c < s.Channels; c++)
            for (int ky = 0; ky < s.KernelH; ky++)
                for (int kx = 0; kx < s.KernelW; kx++)
                {
                    ValidColumns(s, kx, outWidth, out int first, out int end);
                    // One vector per row (the usual small image) keeps its mask in a register.
                    TVector singleMask = TSimd.LaneMask(first, end);
                    for (int oy = 0; oy < outHeight; oy++, destination += outWidth)
                    {
                        int iy = oy * s.StrideH - s.PadH + ky;
                        if (iy < 0 || iy >= s.Height)
                        {
                            for (int ox0 = 0; ox0 < outWidth; ox0 += width) TSimd.Store(TSimd.Zero, destination + ox0);
                            continue;
                        }
                        // Output column ox reads source[ox].
                        float* source = image + ((nint)c * s.Height + iy) * s.Width - s.PadW + kx;
                        for (int ox0 = 0; ox0 < outWidth; ox0 += width)
                        {
                            float* run = source + ox0;
                            if (run >= image && run + width <= imageEnd)
                            {
                                TVector mask = outWidth <= width ? singleMask : TSimd.LaneMask(first - ox0, end - ox0);
                                TSimd.Store(TSimd.Keep(TSimd.Load(run), mask), destination + ox0);
                            }
                            else
                            {
                                // The vector would read outside this image: element by element, zero in the padding.
                                int count = Math.Min(width, outWidth - ox0);
                                for (int lane = 0; lane < count; lane++)
                                {
                                    int ox = ox0 + lane;
                                    destination[ox] = ox >= first && ox < end ? run[lane] : 0f;
                                }
                            }
                        }
                    }
                }
    }

    /// <summary>Writes the patch matrix for horizontal strides above 1.</summary>
    private static void UnfoldStrided(in Conv2dShape s, float* image, float* columns)
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
                        new Span<float>(destination, outWidth).Clear();
                        int iy = oy * s.StrideH - s.PadH + ky;
                        if (iy < 0 || iy >= s.Height) continue;
                        float* source = image + ((nint)c * s.Height + iy) * s.Width - s.PadW + kx;
                        for (int ox = first; ox < end; ox++) destination[ox] = source[ox * s.StrideW];
                    }
                }
    }

    /// <summary>
    /// Floats that <see cref="Fold"/> may read past the end of the patch matrix (one vector beyond a row's last
    /// kernel offset; those lanes are discarded): a patch-matrix buffer must have this many more after it.
    /// </summary>
    public static int ReadSlack(in Conv2dShape s) => s.KernelW + 16;

    /// <summary>
    /// Overwrites the image with the sum of its patch-matrix entries (the adjoint of <see cref="Unfold"/>). For unit
    /// horizontal stride each run of image pixels is gathered in registers from every (ky, kx) row that covers it and
    /// stored once, instead of adding the short patch rows onto the image one by one; each pixel's terms are added in
    /// (ky, kx) order on every path.
    /// </summary>
    public static void Fold(in Conv2dShape s, float* columns, float* image, KernelIsa isa)
    {
        if (s.StrideW != 1)
        {
            new Span<float>(image, s.InputImageLength).Clear();
            FoldAddStrided(s, columns, image);
            return;
        }
        switch (isa)
        {
            case KernelIsa.Avx512: FoldUnitStride<Simd512, Vector512<float>>(s, columns, image); break;
            case KernelIsa.Avx2: FoldUnitStride<Simd256, Vector256<float>>(s, columns, image); break;
            case KernelIsa.Vector: FoldUnitStride<SimdPortable, System.Numerics.Vector<float>>(s, columns, image); break;
            default: FoldUnitStride<SimdScalar, float>(s, columns, image); break;
        }
    }

    private static void FoldUnitStride<TSimd, TVector>(in Conv2dShape s, float* columns, float* image)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        int width = TSimd.Count;
        int outHeight = s.OutHeight, outWidth = s.OutWidth, imageWidth = s.Width;
        nint rowLength = (nint)outHeight * outWidth;
        float* imageEnd = image + s.InputImageLength;
        Span<float> lastVector = stackalloc float[width];
        for (int c = 0; c < s.Channels; c++)
            for (int iy = 0; iy < s.Height; iy++)
            {
                float* imageRow = image + ((nint)c * s.Height + iy) * imageWidth;
                for (int ix0 = 0; ix0 < imageWidth; ix0 += width)
                {
                    TVector sum = TSimd.Zero;
                    for (int ky = 0; ky < s.KernelH; ky++)
                    {
                        // Output row oy reads image row oy·SH − PH + ky.
                        int shifted = iy + s.PadH - ky;
                        if (shifted < 0 || shifted % s.StrideH != 0) continue;
                        int oy = shifted / s.StrideH;
                        if (oy >= outHeight) continue;
                        float* patchRow = columns + ((nint)c * s.KernelH + ky) * s.KernelW * rowLength + (nint)oy * outWidth;
                        for (int kx = 0; kx < s.KernelW; kx++, patchRow += rowLength)
                        {
                            // Lane l is image column ix0 + l, read by output column ox = ix0 + l + PW − kx.
                            int offset = ix0 + s.PadW - kx;
                            int first = -offset, end = Math.Min(outWidth - offset, imageWidth - ix0);
                            if (first >= end) continue;
                            sum = TSimd.Add(sum, TSimd.Keep(TSimd.Load(patchRow + offset), TSimd.LaneMask(first, end)));
                        }
                    }
                    // Lanes past the row spill into the next row or channel, which is written later; only the image's
                    // very end must not be overrun (another thread may own what follows).
                    if (imageRow + ix0 + width <= imageEnd) TSimd.Store(sum, imageRow + ix0);
                    else
                    {
                        fixed (float* spill = lastVector) TSimd.Store(sum, spill);
                        lastVector[..(imageWidth - ix0)].CopyTo(new Span<float>(imageRow + ix0, imageWidth - ix0));
                    }
                }
            }
    }

    /// <summary>Adds the patch matrix onto the image for horizontal strides above 1.</summary>
    private static void FoldAddStrided(in Conv2dShape s, float* columns, float* image)
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
