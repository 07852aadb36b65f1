using System.Runtime.CompilerServices;

namespace Graph.Runtime.Kernels;

/// <summary>A count fixed at compile time, so that each register-tile shape is its own specialized method.</summary>
internal interface ITileCount
{
    static abstract int Value { get; }
}

internal readonly struct Tile1 : ITileCount { public static int Value => 1; }
internal readonly struct Tile2 : ITileCount { public static int Value => 2; }
internal readonly struct Tile3 : ITileCount { public static int Value => 3; }
internal readonly struct Tile4 : ITileCount { public static int Value => 4; }
internal readonly struct Tile5 : ITileCount { public static int Value => 5; }
internal readonly struct Tile6 : ITileCount { public static int Value => 6; }
internal readonly struct Tile7 : ITileCount { public static int Value => 7; }
internal readonly struct Tile8 : ITileCount { public static int Value => 8; }
internal readonly struct Tile9 : ITileCount { public static int Value => 9; }
internal readonly struct Tile10 : ITileCount { public static int Value => 10; }
internal readonly struct Tile11 : ITileCount { public static int Value => 11; }
internal readonly struct Tile12 : ITileCount { public static int Value => 12; }

/// <summary>
/// Register tiles of the direct convolution (<see cref="DirectConv2d"/>). Both read the right operand straight from a
/// zero-padded image: tap k of wide output position q is <c>source[taps[k] + q]</c>, so a run of positions is one
/// unaligned vector load. Tile shapes are type parameters (the JIT drops the unused accumulators and branches).
/// </summary>
internal static unsafe class DirectConv2dTiles
{
    /// <summary>Most output rows (channels) a <see cref="Correlate{TSimd, TVector, TRows, TCols}"/> tile holds.</summary>
    public const int CorrelateRows = 8;

    /// <summary>Most vectors of positions a <see cref="Correlate{TSimd, TVector, TRows, TCols}"/> tile holds.</summary>
    public const int CorrelateColumns = 3;

    /// <summary>Most output-gradient rows a <see cref="FilterGradient{TSimd, TVector, TRows, TTaps}"/> tile holds:
    /// blocks of up to <see cref="FilterRowBlock"/>, or all of them up to this many (one pass over the taps).</summary>
    public const int FilterRows = 6;

    /// <summary>Rows per block when there are more than <see cref="FilterRows"/>.</summary>
    public const int FilterRowBlock = 4;

    /// <summary>Most taps a <see cref="FilterGradient{TSimd, TVector, TRows, TTaps}"/> tile holds.</summary>
    public const int FilterTaps = 6;

    /// <summary>Most accumulators (rows × taps) of a <see cref="FilterGradient{TSimd, TVector, TRows, TTaps}"/> tile.</summary>
    public const int FilterAccumulators = 24;

    /// <summary>
    /// <c>output[r·outputStride + j] = Σ_k weights[k·TRows + r] · source[taps[k] + j]</c> for TRows rows and
    /// TCols vectors of positions j (added to the output when <paramref name="accumulate"/>): per tap, TCols loads
    /// and TRows broadcasts feed TRows·TCols FMAs.
    /// </summary>
    public static void Correlate<TSimd, TVector, TRows, TCols>(int tapCount, int* taps, float* weights, float* source,
        float* output, nint outputStride, bool accumulate)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TRows : struct, ITileCount where TCols : struct, ITileCount
    {
        int rows = TRows.Value, cols = TCols.Value, lanes = TSimd.Count;
        TVector c00 = TSimd.Zero, c01 = TSimd.Zero, c02 = TSimd.Zero;
        TVector c10 = TSimd.Zero, c11 = TSimd.Zero, c12 = TSimd.Zero;
        TVector c20 = TSimd.Zero, c21 = TSimd.Zero, c22 = TSimd.Zero;
        TVector c30 = TSimd.Zero, c31 = TSimd.Zero, c32 = TSimd.Zero;
        TVector c40 = TSimd.Zero, c41 = TSimd.Zero, c42 = TSimd.Zero;
        TVector c50 = TSimd.Zero, c51 = TSimd.Zero, c52 = TSimd.Zero;
        TVector c60 = TSimd.Zero, c61 = TSimd.Zero, c62 = TSimd.Zero;
        TVector c70 = TSimd.Zero, c71 = TSimd.Zero, c72 = TSimd.Zero;
        for (int k = 0; k < tapCount; k++, weights += rows)
        {
            float* x = source + taps[k];
            TVector x0 = TSimd.Load(x);
            TVector x1 = cols > 1 ? TSimd.Load(x + lanes) : TSimd.Zero;
            TVector x2 = cols > 2 ? TSimd.Load(x + 2 * lanes) : TSimd.Zero;
            TVector w0 = TSimd.Broadcast(weights[0]);
            c00 = TSimd.MultiplyAdd(w0, x0, c00);
            if (cols > 1) c01 = TSimd.MultiplyAdd(w0, x1, c01);
            if (cols > 2) c02 = TSimd.MultiplyAdd(w0, x2, c02);
            if (rows > 1)
            {
                TVector w1 = TSimd.Broadcast(weights[1]);
                c10 = TSimd.MultiplyAdd(w1, x0, c10);
                if (cols > 1) c11 = TSimd.MultiplyAdd(w1, x1, c11);
                if (cols > 2) c12 = TSimd.MultiplyAdd(w1, x2, c12);
            }
            if (rows > 2)
            {
                TVector w2 = TSimd.Broadcast(weights[2]);
                c20 = TSimd.MultiplyAdd(w2, x0, c20);
                if (cols > 1) c21 = TSimd.MultiplyAdd(w2, x1, c21);
                if (cols > 2) c22 = TSimd.MultiplyAdd(w2, x2, c22);
            }
            if (rows > 3)
            {
                TVector w3 = TSimd.Broadcast(weights[3]);
                c30 = TSimd.MultiplyAdd(w3, x0, c30);
                if (cols > 1) c31 = TSimd.MultiplyAdd(w3, x1, c31);
                if (cols > 2) c32 = TSimd.MultiplyAdd(w3, x2, c32);
            }
            if (rows > 4)
            {
                TVector w4 = TSimd.Broadcast(weights[4]);
                c40 = TSimd.MultiplyAdd(w4, x0, c40);
                if (cols > 1) c41 = TSimd.MultiplyAdd(w4, x1, c41);
                if (cols > 2) c42 = TSimd.MultiplyAdd(w4, x2, c42);
            }
            if (rows > 5)
            {
                TVector w5 = TSimd.Broadcast(weights[5]);
                c50 = TSimd.MultiplyAdd(w5, x0, c50);
                if (cols > 1) c51 = TSimd.MultiplyAdd(w5, x1, c51);
                if (cols > 2) c52 = TSimd.MultiplyAdd(w5, x2, c52);
            }
            if (rows > 6)
            {
                TVector w6 = TSimd.Broadcast(weights[6]);
                c60 = TSimd.MultiplyAdd(w6, x0, c60);
                if (cols > 1) c61 = TSimd.MultiplyAdd(w6, x1, c61);
                if (cols > 2) c62 = TSimd.MultiplyAdd(w6, x2, c62);
            }
            if (rows > 7)
            {
                TVector w7 = TSimd.Broadcast(weights[7]);
                c70 = TSimd.MultiplyAdd(w7, x0, c70);
                if (cols > 1) c71 = TSimd.MultiplyAdd(w7, x1, c71);
                if (cols > 2) c72 = TSimd.MultiplyAdd(w7, x2, c72);
            }
        }
        StoreRow<TSimd, TVector, TCols>(output, c00, c01, c02, accumulate);
        if (rows > 1) StoreRow<TSimd, TVector, TCols>(output + 1 * outputStride, c10, c11, c12, accumulate);
        if (rows > 2) StoreRow<TSimd, TVector, TCols>(output + 2 * outputStride, c20, c21, c22, accumulate);
        if (rows > 3) StoreRow<TSimd, TVector, TCols>(output + 3 * outputStride, c30, c31, c32, accumulate);
        if (rows > 4) StoreRow<TSimd, TVector, TCols>(output + 4 * outputStride, c40, c41, c42, accumulate);
        if (rows > 5) StoreRow<TSimd, TVector, TCols>(output + 5 * outputStride, c50, c51, c52, accumulate);
        if (rows > 6) StoreRow<TSimd, TVector, TCols>(output + 6 * outputStride, c60, c61, c62, accumulate);
        if (rows > 7) StoreRow<TSimd, TVector, TCols>(output + 7 * outputStride, c70, c71, c72, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TSimd, TVector, TCols>(float* output, TVector c0, TVector c1, TVector c2, bool accumulate)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TCols : struct, ITileCount
    {
        int lanes = TSimd.Count;
        if (accumulate)
        {
            c0 = TSimd.Add(TSimd.Load(output), c0);
            if (TCols.Value > 1) c1 = TSimd.Add(TSimd.Load(output + lanes), c1);
            if (TCols.Value > 2) c2 = TSimd.Add(TSimd.Load(output + 2 * lanes), c2);
        }
        TSimd.Store(c0, output);
        if (TCols.Value > 1) TSimd.Store(c1, output + lanes);
        if (TCols.Value > 2) TSimd.Store(c2, output + 2 * lanes);
    }

    /// <summary>
    /// <c>partial[r·partialStride + t·lanes ..] += Σ_i Σ_v gradOutput[i·gradOutputImageStride + r·gradOutputStride + v·lanes ..]
    /// ⊙ source[i·sourceImageStride + taps[t] + v·lanes ..]</c> for TRows rows, TTaps taps, <paramref name="images"/>
    /// images and <paramref name="vectors"/> vectors of positions: lane-wise partial sums, reduced across lanes once at
    /// the end of the pass. Per vector, TRows + TTaps loads feed TRows·TTaps FMAs.
    /// </summary>
    public static void FilterGradient<TSimd, TVector, TRows, TTaps>(int images, int vectors, float* gradOutput,
        nint gradOutputStride, nint gradOutputImageStride, float* source, nint sourceImageStride, int* taps,
        float* partial, nint partialStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TRows : struct, ITileCount where TTaps : struct, ITileCount
    {
        int rows = TRows.Value, tapCount = TTaps.Value, lanes = TSimd.Count;
        int t0 = taps[0], t1 = tapCount > 1 ? taps[1] : 0, t2 = tapCount > 2 ? taps[2] : 0, t3 = tapCount > 3 ? taps[3] : 0, t4 = tapCount > 4 ? taps[4] : 0, t5 = tapCount > 5 ? taps[5] : 0;
        TVector c00 = TSimd.Zero, c01 = TSimd.Zero, c02 = TSimd.Zero, c03 = TSimd.Zero, c04 = TSimd.Zero, c05 = TSimd.Zero;
        TVector c10 = TSimd.Zero, c11 = TSimd.Zero, c12 = TSimd.Zero, c13 = TSimd.Zero, c14 = TSimd.Zero, c15 = TSimd.Zero;
        TVector c20 = TSimd.Zero, c21 = TSimd.Zero, c22 = TSimd.Zero, c23 = TSimd.Zero, c24 = TSimd.Zero, c25 = TSimd.Zero;
        TVector c30 = TSimd.Zero, c31 = TSimd.Zero, c32 = TSimd.Zero, c33 = TSimd.Zero, c34 = TSimd.Zero, c35 = TSimd.Zero;
        TVector c40 = TSimd.Zero, c41 = TSimd.Zero, c42 = TSimd.Zero, c43 = TSimd.Zero, c44 = TSimd.Zero, c45 = TSimd.Zero;
        TVector c50 = TSimd.Zero, c51 = TSimd.Zero, c52 = TSimd.Zero, c53 = TSimd.Zero, c54 = TSimd.Zero, c55 = TSimd.Zero;
        for (int image = 0; image < images; image++, gradOutput += gradOutputImageStride, source += sourceImageStride)
        {
            float* g = gradOutput, x = source;
            for (int v = 0; v < vectors; v++, g += lanes, x += lanes)
            {
                TVector g0 = TSimd.Load(g);
                TVector g1 = rows > 1 ? TSimd.Load(g + 1 * gradOutputStride) : TSimd.Zero;
                TVector g2 = rows > 2 ? TSimd.Load(g + 2 * gradOutputStride) : TSimd.Zero;
                TVector g3 = rows > 3 ? TSimd.Load(g + 3 * gradOutputStride) : TSimd.Zero;
                TVector g4 = rows > 4 ? TSimd.Load(g + 4 * gradOutputStride) : TSimd.Zero;
                TVector g5 = rows > 5 ? TSimd.Load(g + 5 * gradOutputStride) : TSimd.Zero;
                TVector x0 = TSimd.Load(x + t0);
                c00 = TSimd.MultiplyAdd(g0, x0, c00);
                if (rows > 1) c10 = TSimd.MultiplyAdd(g1, x0, c10);
                if (rows > 2) c20 = TSimd.MultiplyAdd(g2, x0, c20);
                if (rows > 3) c30 = TSimd.MultiplyAdd(g3, x0, c30);
                if (rows > 4) c40 = TSimd.MultiplyAdd(g4, x0, c40);
                if (rows > 5) c50 = TSimd.MultiplyAdd(g5, x0, c50);
                if (tapCount > 1)
                {
                    TVector x1 = TSimd.Load(x + t1);
                    c01 = TSimd.MultiplyAdd(g0, x1, c01);
                    if (rows > 1) c11 = TSimd.MultiplyAdd(g1, x1, c11);
                    if (rows > 2) c21 = TSimd.MultiplyAdd(g2, x1, c21);
                    if (rows > 3) c31 = TSimd.MultiplyAdd(g3, x1, c31);
                    if (rows > 4) c41 = TSimd.MultiplyAdd(g4, x1, c41);
                    if (rows > 5) c51 = TSimd.MultiplyAdd(g5, x1, c51);
                }
                if (tapCount > 2)
                {
                    TVector x2 = TSimd.Load(x + t2);
                    c02 = TSimd.MultiplyAdd(g0, x2, c02);
                    if (rows > 1) c12 = TSimd.MultiplyAdd(g1, x2, c12);
                    if (rows > 2) c22 = TSimd.MultiplyAdd(g2, x2, c22);
                    if (rows > 3) c32 = TSimd.MultiplyAdd(g3, x2, c32);
                    if (rows > 4) c42 = TSimd.MultiplyAdd(g4, x2, c42);
                    if (rows > 5) c52 = TSimd.MultiplyAdd(g5, x2, c52);
                }
                if (tapCount > 3)
                {
                    TVector x3 = TSimd.Load(x + t3);
                    c03 = TSimd.MultiplyAdd(g0, x3, c03);
                    if (rows > 1) c13 = TSimd.MultiplyAdd(g1, x3, c13);
                    if (rows > 2) c23 = TSimd.MultiplyAdd(g2, x3, c23);
                    if (rows > 3) c33 = TSimd.MultiplyAdd(g3, x3, c33);
                    if (rows > 4) c43 = TSimd.MultiplyAdd(g4, x3, c43);
                    if (rows > 5) c53 = TSimd.MultiplyAdd(g5, x3, c53);
                }
                if (tapCount > 4)
                {
                    TVector x4 = TSimd.Load(x + t4);
                    c04 = TSimd.MultiplyAdd(g0, x4, c04);
                    if (rows > 1) c14 = TSimd.MultiplyAdd(g1, x4, c14);
                    if (rows > 2) c24 = TSimd.MultiplyAdd(g2, x4, c24);
                    if (rows > 3) c34 = TSimd.MultiplyAdd(g3, x4, c34);
                    if (rows > 4) c44 = TSimd.MultiplyAdd(g4, x4, c44);
                    if (rows > 5) c54 = TSimd.MultiplyAdd(g5, x4, c54);
                }
                if (tapCount > 5)
                {
                    TVector x5 = TSimd.Load(x + t5);
                    c05 = TSimd.MultiplyAdd(g0, x5, c05);
                    if (rows > 1) c15 = TSimd.MultiplyAdd(g1, x5, c15);
                    if (rows > 2) c25 = TSimd.MultiplyAdd(g2, x5, c25);
                    if (rows > 3) c35 = TSimd.MultiplyAdd(g3, x5, c35);
                    if (rows > 4) c45 = TSimd.MultiplyAdd(g4, x5, c45);
                    if (rows > 5) c55 = TSimd.MultiplyAdd(g5, x5, c55);
                }
            }
        }
        AddRow<TSimd, TVector, TTaps>(partial, c00, c01, c02, c03, c04, c05);
        if (rows > 1) AddRow<TSimd, TVector, TTaps>(partial + 1 * partialStride, c10, c11, c12, c13, c14, c15);
        if (rows > 2) AddRow<TSimd, TVector, TTaps>(partial + 2 * partialStride, c20, c21, c22, c23, c24, c25);
        if (rows > 3) AddRow<TSimd, TVector, TTaps>(partial + 3 * partialStride, c30, c31, c32, c33, c34, c35);
        if (rows > 4) AddRow<TSimd, TVector, TTaps>(partial + 4 * partialStride, c40, c41, c42, c43, c44, c45);
        if (rows > 5) AddRow<TSimd, TVector, TTaps>(partial + 5 * partialStride, c50, c51, c52, c53, c54, c55);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow<TSimd, TVector, TTaps>(float* partial, TVector c0, TVector c1, TVector c2, TVector c3,
        TVector c4, TVector c5)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TTaps : struct, ITileCount
    {
        int lanes = TSimd.Count;
        TSimd.Store(TSimd.Add(TSimd.Load(partial), c0), partial);
        if (TTaps.Value > 1) TSimd.Store(TSimd.Add(TSimd.Load(partial + lanes), c1), partial + lanes);
        if (TTaps.Value > 2) TSimd.Store(TSimd.Add(TSimd.Load(partial + 2 * lanes), c2), partial + 2 * lanes);
        if (TTaps.Value > 3) TSimd.Store(TSimd.Add(TSimd.Load(partial + 3 * lanes), c3), partial + 3 * lanes);
        if (TTaps.Value > 4) TSimd.Store(TSimd.Add(TSimd.Load(partial + 4 * lanes), c4), partial + 4 * lanes);
        if (TTaps.Value > 5) TSimd.Store(TSimd.Add(TSimd.Load(partial + 5 * lanes), c5), partial + 5 * lanes);
    }

    /// <summary>Runs <see cref="Correlate{TSimd, TVector, TRows, TCols}"/> with run-time tile sizes.</summary>
    public static void CorrelateAny<TSimd, TVector>(int rows, int cols, int tapCount, int* taps, float* weights,
        float* source, float* output, nint outputStride, bool accumulate) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        switch (rows)
        {
            case 1: CorrelateTileColumns<TSimd, TVector, Tile1>(cols, tapCount, taps, weights, source, output, outputStride, accumulate); break;
            case 2: CorrelateTileColumns<TSimd, TVector, Tile2>(cols, tapCount, taps, weights, source, output, outputStride, accumulate); break;
            case 3: CorrelateTileColumns<TSimd, TVector, Tile3>(cols, tapCount, taps, weights, source, output, outputStride, accumulate); break;
            case 4: CorrelateTileColumns<TSimd, TVector, Tile4>(cols, tapCount, taps, weights, source, output, outputStride, accumulate); break;
            case 5: CorrelateTileColumns<TSimd, TVector, Tile5>(cols, tapCount, taps, weights, source, output, outputStride, accumulate); break;
            case 6: CorrelateTileColumns<TSimd, TVector, Tile6>(cols, tapCount, taps, weights, source, output, outputStride, accumulate); break;
            case 7: CorrelateTileColumns<TSimd, TVector, Tile7>(cols, tapCount, taps, weights, source, output, outputStride, accumulate); break;
            default: CorrelateTileColumns<TSimd, TVector, Tile8>(cols, tapCount, taps, weights, source, output, outputStride, accumulate); break;
        }
    }

    private static void CorrelateTileColumns<TSimd, TVector, TRows>(int cols, int tapCount, int* taps, float* weights,
        float* source, float* output, nint outputStride, bool accumulate)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TRows : struct, ITileCount
    {
        switch (cols)
        {
            case 1: Correlate<TSimd, TVector, TRows, Tile1>(tapCount, taps, weights, source, output, outputStride, accumulate); break;
            case 2: Correlate<TSimd, TVector, TRows, Tile2>(tapCount, taps, weights, source, output, outputStride, accumulate); break;
            default: Correlate<TSimd, TVector, TRows, Tile3>(tapCount, taps, weights, source, output, outputStride, accumulate); break;
        }
    }

    /// <summary>Runs <see cref="FilterGradient{TSimd, TVector, TRows, TTaps}"/> with run-time tile sizes.</summary>
    public static void FilterGradientAny<TSimd, TVector>(int rows, int tapCount, int images, int vectors, float* gradOutput,
        nint gradOutputStride, nint gradOutputImageStride, float* source, nint sourceImageStride, int* taps, float* partial,
        nint partialStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        switch (rows)
        {
            case 1: FilterGradientRows<TSimd, TVector, Tile1>(tapCount, images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
            case 2: FilterGradientRows<TSimd, TVector, Tile2>(tapCount, images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
            case 3: FilterGradientRows<TSimd, TVector, Tile3>(tapCount, images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
            case 4: FilterGradientRows<TSimd, TVector, Tile4>(tapCount, images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
            case 5: FilterGradientRows<TSimd, TVector, Tile5>(tapCount, images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
            default: FilterGradientRows<TSimd, TVector, Tile6>(tapCount, images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
        }
    }

    private static void FilterGradientRows<TSimd, TVector, TRows>(int tapCount, int images, int vectors, float* gradOutput,
        nint gradOutputStride, nint gradOutputImageStride, float* source, nint sourceImageStride, int* taps, float* partial,
        nint partialStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TRows : struct, ITileCount
    {
        switch (tapCount)
        {
            case 1: FilterGradient<TSimd, TVector, TRows, Tile1>(images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
            case 2: FilterGradient<TSimd, TVector, TRows, Tile2>(images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
            case 3: FilterGradient<TSimd, TVector, TRows, Tile3>(images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
            case 4: FilterGradient<TSimd, TVector, TRows, Tile4>(images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
            case 5: FilterGradient<TSimd, TVector, TRows, Tile5>(images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
            default: FilterGradient<TSimd, TVector, TRows, Tile6>(images, vectors, gradOutput, gradOutputStride, gradOutputImageStride, source, sourceImageStride, taps, partial, partialStride); break;
        }
    }

    /// <summary>Most kernel rows a <see cref="ChannelFilterGradient{TSimd, TVector, TRows, TCols}"/> tile holds.</summary>
    public const int ChannelFilterRows = 5;

    /// <summary>Most kernel columns a <see cref="ChannelFilterGradient{TSimd, TVector, TRows, TCols}"/> tile holds.</summary>
    public const int ChannelFilterColumns = 5;

    /// <summary>
    /// The filter gradient with output channels along the lanes: <c>partial[r·partialRowStride + k·partialColumnStride ..]
    /// += Σ_i Σ_(y, x) gradOutput[i·gradOutputImageStride + (y·outWidth + x)·channelStride ..] · source[i·sourceImageStride +
    /// (y + r)·sourceRowStride + x + k]</c> for TRows kernel rows r, TCols kernel columns k, <paramref name="images"/>
    /// images and every output position (y, x): the output gradient transposed to one vector of channels per
    /// position, each input element broadcast. Per position, one load and TRows·TCols broadcasts feed TRows·TCols FMAs.
    /// </summary>
    public static void ChannelFilterGradient<TSimd, TVector, TRows, TCols>(int images, int outHeight, int outWidth,
        float* gradOutput, nint gradOutputImageStride, nint channelStride, float* source, nint sourceImageStride,
        nint sourceRowStride, float* partial, nint partialRowStride, nint partialColumnStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TRows : struct, ITileCount where TCols : struct, ITileCount
    {
        int rows = TRows.Value, cols = TCols.Value;
        TVector a00 = TSimd.Zero, a01 = TSimd.Zero, a02 = TSimd.Zero, a03 = TSimd.Zero, a04 = TSimd.Zero;
        TVector a10 = TSimd.Zero, a11 = TSimd.Zero, a12 = TSimd.Zero, a13 = TSimd.Zero, a14 = TSimd.Zero;
        TVector a20 = TSimd.Zero, a21 = TSimd.Zero, a22 = TSimd.Zero, a23 = TSimd.Zero, a24 = TSimd.Zero;
        TVector a30 = TSimd.Zero, a31 = TSimd.Zero, a32 = TSimd.Zero, a33 = TSimd.Zero, a34 = TSimd.Zero;
        TVector a40 = TSimd.Zero, a41 = TSimd.Zero, a42 = TSimd.Zero, a43 = TSimd.Zero, a44 = TSimd.Zero;
        for (int image = 0; image < images; image++, gradOutput += gradOutputImageStride, source += sourceImageStride)
        {
            float* g = gradOutput;
            for (int y = 0; y < outHeight; y++)
            {
                float* x0 = source + y * sourceRowStride;
                for (int x = 0; x < outWidth; x++, g += channelStride, x0++)
                {
                    TVector gv = TSimd.Load(g);
                    a00 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x0[0]), a00);
                    if (cols > 1) a01 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x0[1]), a01);
                    if (cols > 2) a02 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x0[2]), a02);
                    if (cols > 3) a03 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x0[3]), a03);
                    if (cols > 4) a04 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x0[4]), a04);
                    if (rows > 1)
                    {
                        float* x1 = x0 + 1 * sourceRowStride;
                        a10 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x1[0]), a10);
                        if (cols > 1) a11 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x1[1]), a11);
                        if (cols > 2) a12 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x1[2]), a12);
                        if (cols > 3) a13 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x1[3]), a13);
                        if (cols > 4) a14 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x1[4]), a14);
                    }
                    if (rows > 2)
                    {
                        float* x2 = x0 + 2 * sourceRowStride;
                        a20 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x2[0]), a20);
                        if (cols > 1) a21 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x2[1]), a21);
                        if (cols > 2) a22 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x2[2]), a22);
                        if (cols > 3) a23 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x2[3]), a23);
                        if (cols > 4) a24 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x2[4]), a24);
                    }
                    if (rows > 3)
                    {
                        float* x3 = x0 + 3 * sourceRowStride;
                        a30 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x3[0]), a30);
                        if (cols > 1) a31 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x3[1]), a31);
                        if (cols > 2) a32 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x3[2]), a32);
                        if (cols > 3) a33 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x3[3]), a33);
                        if (cols > 4) a34 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x3[4]), a34);
                    }
                    if (rows > 4)
                    {
                        float* x4 = x0 + 4 * sourceRowStride;
                        a40 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x4[0]), a40);
                        if (cols > 1) a41 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x4[1]), a41);
                        if (cols > 2) a42 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x4[2]), a42);
                        if (cols > 3) a43 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x4[3]), a43);
                        if (cols > 4) a44 = TSimd.MultiplyAdd(gv, TSimd.Broadcast(x4[4]), a44);
                    }
                }
            }
        }
        AddColumns<TSimd, TVector, TCols>(partial + 0 * partialRowStride, partialColumnStride, a00, a01, a02, a03, a04);
        if (rows > 1) AddColumns<TSimd, TVector, TCols>(partial + 1 * partialRowStride, partialColumnStride, a10, a11, a12, a13, a14);
        if (rows > 2) AddColumns<TSimd, TVector, TCols>(partial + 2 * partialRowStride, partialColumnStride, a20, a21, a22, a23, a24);
        if (rows > 3) AddColumns<TSimd, TVector, TCols>(partial + 3 * partialRowStride, partialColumnStride, a30, a31, a32, a33, a34);
        if (rows > 4) AddColumns<TSimd, TVector, TCols>(partial + 4 * partialRowStride, partialColumnStride, a40, a41, a42, a43, a44);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddColumns<TSimd, TVector, TCols>(float* partial, nint stride, TVector c0, TVector c1, TVector c2,
        TVector c3, TVector c4)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TCols : struct, ITileCount
    {
        TSimd.Store(TSimd.Add(TSimd.Load(partial), c0), partial);
        if (TCols.Value > 1) TSimd.Store(TSimd.Add(TSimd.Load(partial + stride), c1), partial + stride);
        if (TCols.Value > 2) TSimd.Store(TSimd.Add(TSimd.Load(partial + 2 * stride), c2), partial + 2 * stride);
        if (TCols.Value > 3) TSimd.Store(TSimd.Add(TSimd.Load(partial + 3 * stride), c3), partial + 3 * stride);
        if (TCols.Value > 4) TSimd.Store(TSimd.Add(TSimd.Load(partial + 4 * stride), c4), partial + 4 * stride);
    }

    /// <summary>Runs <see cref="ChannelFilterGradient{TSimd, TVector, TRows, TCols}"/> with run-time tile sizes.</summary>
    public static void ChannelFilterGradientAny<TSimd, TVector>(int rows, int cols, int images, int outHeight, int outWidth,
        float* gradOutput, nint gradOutputImageStride, nint channelStride, float* source, nint sourceImageStride,
        nint sourceRowStride, float* partial, nint partialRowStride, nint partialColumnStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        switch (rows)
        {
            case 1: ChannelFilterGradientColumns<TSimd, TVector, Tile1>(cols, images, outHeight, outWidth, gradOutput, gradOutputImageStride, channelStride, source, sourceImageStride, sourceRowStride, partial, partialRowStride, partialColumnStride); break;
            case 2: ChannelFilterGradientColumns<TSimd, TVector, Tile2>(cols, images, outHeight, outWidth, gradOutput, gradOutputImageStride, channelStride, source, sourceImageStride, sourceRowStride, partial, partialRowStride, partialColumnStride); break;
            case 3: ChannelFilterGradientColumns<TSimd, TVector, Tile3>(cols, images, outHeight, outWidth, gradOutput, gradOutputImageStride, channelStride, source, sourceImageStride, sourceRowStride, partial, partialRowStride, partialColumnStride); break;
            case 4: ChannelFilterGradientColumns<TSimd, TVector, Tile4>(cols, images, outHeight, outWidth, gradOutput, gradOutputImageStride, channelStride, source, sourceImageStride, sourceRowStride, partial, partialRowStride, partialColumnStride); break;
            default: ChannelFilterGradientColumns<TSimd, TVector, Tile5>(cols, images, outHeight, outWidth, gradOutput, gradOutputImageStride, channelStride, source, sourceImageStride, sourceRowStride, partial, partialRowStride, partialColumnStride); break;
        }
    }

    private static void ChannelFilterGradientColumns<TSimd, TVector, TRows>(int cols, int images, int outHeight, int outWidth,
        float* gradOutput, nint gradOutputImageStride, nint channelStride, float* source, nint sourceImageStride,
        nint sourceRowStride, float* partial, nint partialRowStride, nint partialColumnStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TRows : struct, ITileCount
    {
        switch (cols)
        {
            case 1: ChannelFilterGradient<TSimd, TVector, TRows, Tile1>(images, outHeight, outWidth, gradOutput, gradOutputImageStride, channelStride, source, sourceImageStride, sourceRowStride, partial, partialRowStride, partialColumnStride); break;
            case 2: ChannelFilterGradient<TSimd, TVector, TRows, Tile2>(images, outHeight, outWidth, gradOutput, gradOutputImageStride, channelStride, source, sourceImageStride, sourceRowStride, partial, partialRowStride, partialColumnStride); break;
            case 3: ChannelFilterGradient<TSimd, TVector, TRows, Tile3>(images, outHeight, outWidth, gradOutput, gradOutputImageStride, channelStride, source, sourceImageStride, sourceRowStride, partial, partialRowStride, partialColumnStride); break;
            case 4: ChannelFilterGradient<TSimd, TVector, TRows, Tile4>(images, outHeight, outWidth, gradOutput, gradOutputImageStride, channelStride, source, sourceImageStride, sourceRowStride, partial, partialRowStride, partialColumnStride); break;
            default: ChannelFilterGradient<TSimd, TVector, TRows, Tile5>(images, outHeight, outWidth, gradOutput, gradOutputImageStride, channelStride, source, sourceImageStride, sourceRowStride, partial, partialRowStride, partialColumnStride); break;
        }
    }

    /// <summary>Most output rows a <see cref="ChannelCorrelate{TSimd, TVector, TRows, TCols}"/> tile holds.</summary>
    public const int ChannelCorrelateRows = 2;

    /// <summary>Most positions per output row a <see cref="ChannelCorrelate{TSimd, TVector, TRows, TCols}"/> tile holds.</summary>
    public const int ChannelCorrelateColumns = 12;

    /// <summary>
    /// The forward convolution with output channels along the lanes: <c>output[r·outputRowStride + p·outputStride ..] =
    /// Σ_k weights[k·weightStride ..] · source[taps[k] + r·sourceRowStride + p]</c> for TRows output rows r and TCols
    /// consecutive positions p (one vector of channels each): per tap, one load of the channels' weights and
    /// TRows·TCols broadcasts of input elements feed TRows·TCols FMAs.
    /// </summary>
    public static void ChannelCorrelate<TSimd, TVector, TRows, TCols>(int tapCount, int* taps, float* weights, nint weightStride,
        float* source, nint sourceRowStride, float* output, nint outputRowStride, nint outputStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TRows : struct, ITileCount where TCols : struct, ITileCount
    {
        int rows = TRows.Value, cols = TCols.Value;
        TVector a0_0 = TSimd.Zero, a0_1 = TSimd.Zero, a0_2 = TSimd.Zero, a0_3 = TSimd.Zero, a0_4 = TSimd.Zero, a0_5 = TSimd.Zero, a0_6 = TSimd.Zero, a0_7 = TSimd.Zero, a0_8 = TSimd.Zero, a0_9 = TSimd.Zero, a0_10 = TSimd.Zero, a0_11 = TSimd.Zero;
        TVector a1_0 = TSimd.Zero, a1_1 = TSimd.Zero, a1_2 = TSimd.Zero, a1_3 = TSimd.Zero, a1_4 = TSimd.Zero, a1_5 = TSimd.Zero, a1_6 = TSimd.Zero, a1_7 = TSimd.Zero, a1_8 = TSimd.Zero, a1_9 = TSimd.Zero, a1_10 = TSimd.Zero, a1_11 = TSimd.Zero;
        for (int k = 0; k < tapCount; k++, weights += weightStride)
        {
            TVector w = TSimd.Load(weights);
            float* x0 = source + taps[k];
            a0_0 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[0]), a0_0);
            if (cols > 1) a0_1 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[1]), a0_1);
            if (cols > 2) a0_2 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[2]), a0_2);
            if (cols > 3) a0_3 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[3]), a0_3);
            if (cols > 4) a0_4 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[4]), a0_4);
            if (cols > 5) a0_5 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[5]), a0_5);
            if (cols > 6) a0_6 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[6]), a0_6);
            if (cols > 7) a0_7 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[7]), a0_7);
            if (cols > 8) a0_8 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[8]), a0_8);
            if (cols > 9) a0_9 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[9]), a0_9);
            if (cols > 10) a0_10 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[10]), a0_10);
            if (cols > 11) a0_11 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x0[11]), a0_11);
            if (rows > 1)
            {
                float* x1 = x0 + sourceRowStride;
                a1_0 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[0]), a1_0);
                if (cols > 1) a1_1 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[1]), a1_1);
                if (cols > 2) a1_2 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[2]), a1_2);
                if (cols > 3) a1_3 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[3]), a1_3);
                if (cols > 4) a1_4 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[4]), a1_4);
                if (cols > 5) a1_5 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[5]), a1_5);
                if (cols > 6) a1_6 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[6]), a1_6);
                if (cols > 7) a1_7 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[7]), a1_7);
                if (cols > 8) a1_8 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[8]), a1_8);
                if (cols > 9) a1_9 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[9]), a1_9);
                if (cols > 10) a1_10 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[10]), a1_10);
                if (cols > 11) a1_11 = TSimd.MultiplyAdd(w, TSimd.Broadcast(x1[11]), a1_11);
            }
        }
        StoreColumns<TSimd, TVector, TCols>(output, outputStride, a0_0, a0_1, a0_2, a0_3, a0_4, a0_5, a0_6, a0_7, a0_8, a0_9, a0_10, a0_11);
        if (rows > 1) StoreColumns<TSimd, TVector, TCols>(output + outputRowStride, outputStride, a1_0, a1_1, a1_2, a1_3, a1_4, a1_5, a1_6, a1_7, a1_8, a1_9, a1_10, a1_11);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreColumns<TSimd, TVector, TCols>(float* output, nint stride, TVector c0, TVector c1, TVector c2, TVector c3, TVector c4, TVector c5, TVector c6, TVector c7, TVector c8, TVector c9, TVector c10, TVector c11)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TCols : struct, ITileCount
    {
        TSimd.Store(c0, output + 0 * stride);
        if (TCols.Value > 1) TSimd.Store(c1, output + 1 * stride);
        if (TCols.Value > 2) TSimd.Store(c2, output + 2 * stride);
        if (TCols.Value > 3) TSimd.Store(c3, output + 3 * stride);
        if (TCols.Value > 4) TSimd.Store(c4, output + 4 * stride);
        if (TCols.Value > 5) TSimd.Store(c5, output + 5 * stride);
        if (TCols.Value > 6) TSimd.Store(c6, output + 6 * stride);
        if (TCols.Value > 7) TSimd.Store(c7, output + 7 * stride);
        if (TCols.Value > 8) TSimd.Store(c8, output + 8 * stride);
        if (TCols.Value > 9) TSimd.Store(c9, output + 9 * stride);
        if (TCols.Value > 10) TSimd.Store(c10, output + 10 * stride);
        if (TCols.Value > 11) TSimd.Store(c11, output + 11 * stride);
    }

    /// <summary>Runs <see cref="ChannelCorrelate{TSimd, TVector, TRows, TCols}"/> with run-time tile sizes.</summary>
    public static void ChannelCorrelateAny<TSimd, TVector>(int rows, int cols, int tapCount, int* taps, float* weights,
        nint weightStride, float* source, nint sourceRowStride, float* output, nint outputRowStride, nint outputStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        if (rows == 1) ChannelCorrelateTileColumns<TSimd, TVector, Tile1>(cols, tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride);
        else ChannelCorrelateTileColumns<TSimd, TVector, Tile2>(cols, tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride);
    }

    private static void ChannelCorrelateTileColumns<TSimd, TVector, TRows>(int cols, int tapCount, int* taps, float* weights,
        nint weightStride, float* source, nint sourceRowStride, float* output, nint outputRowStride, nint outputStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TRows : struct, ITileCount
    {
        switch (cols)
        {
            case 1: ChannelCorrelate<TSimd, TVector, TRows, Tile1>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
            case 2: ChannelCorrelate<TSimd, TVector, TRows, Tile2>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
            case 3: ChannelCorrelate<TSimd, TVector, TRows, Tile3>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
            case 4: ChannelCorrelate<TSimd, TVector, TRows, Tile4>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
            case 5: ChannelCorrelate<TSimd, TVector, TRows, Tile5>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
            case 6: ChannelCorrelate<TSimd, TVector, TRows, Tile6>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
            case 7: ChannelCorrelate<TSimd, TVector, TRows, Tile7>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
            case 8: ChannelCorrelate<TSimd, TVector, TRows, Tile8>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
            case 9: ChannelCorrelate<TSimd, TVector, TRows, Tile9>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
            case 10: ChannelCorrelate<TSimd, TVector, TRows, Tile10>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
            case 11: ChannelCorrelate<TSimd, TVector, TRows, Tile11>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
            default: ChannelCorrelate<TSimd, TVector, TRows, Tile12>(tapCount, taps, weights, weightStride, source, sourceRowStride, output, outputRowStride, outputStride); break;
        }
    }


}
