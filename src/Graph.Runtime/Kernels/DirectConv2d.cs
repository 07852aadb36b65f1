using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Graph.Runtime.Kernels;

/// <summary>How <see cref="Conv2d"/> computes a convolution (see <see cref="Conv2d.AlgorithmFor"/>).</summary>
public enum Conv2dAlgorithm
{
    /// <summary>
    /// Unfold each image into its patch matrix (im2col), then one packed GEMM: fast when both channel counts fill
    /// the GEMM's register tiles, but the unfolded copy is KernelH·KernelW times the image.
    /// </summary>
    Im2ColGemm,

    /// <summary>
    /// Direct convolution over a zero-padded copy of each image (<see cref="DirectConv2d"/>): no patch matrix, register
    /// tiles of up to 8 channels over runs of positions, or of whole vectors of output channels where they fill them
    /// and the rows are short (<see cref="DirectConv2d.ChannelLanes"/>). Stride 1 only, with padding at most
    /// kernel − 1 (so the input gradient is a convolution too, or a scatter on the forward geometry).
    /// </summary>
    Direct,

    /// <summary>
    /// Winograd's F(2×2, 3×3) (<see cref="WinogradConv2d"/>): 2.25× fewer multiplies, as 16 GEMMs over transformed
    /// tiles. 3×3, stride 1, padding at most 2.
    /// </summary>
    Winograd,
}

/// <summary>
/// A stride-1 convolution laid out on its zero-padded input. Output position q = oy·PaddedWidth + ox ("wide"
/// position: output rows keep the padded input's pitch) reads tap k = (c, ky, kx) at padded index
/// <c>Taps[k] + q</c> with <c>Taps[k] = c·PaddedPlane + ky·PaddedWidth + kx</c>, so a run of positions is one
/// contiguous run of the padded image for every tap. Wide columns ox ≥ OutWidth are computed and dropped.
/// </summary>
internal readonly unsafe struct WideLayout
{
    /// <summary>Floats that one vector may read or write past a run: enough for every supported register width.</summary>
    public static readonly int MaxLanes = Math.Max(Vector512<float>.Count, Vector<float>.Count);

    public WideLayout(in Conv2dShape s)
    {
        Shape = s;
        PaddedHeight = s.Height + 2 * s.PadH;
        PaddedWidth = s.Width + 2 * s.PadW;
    }

    public readonly Conv2dShape Shape;
    public readonly int PaddedHeight, PaddedWidth;

    public int PaddedPlane => PaddedHeight * PaddedWidth;

    /// <summary>Floats of a padded image, plus the slack the last vector of positions reads past it.</summary>
    public int PaddedLength => checked(Shape.Channels * PaddedPlane + MaxLanes);

    /// <summary>Wide positions that cover every output: (OutHeight − 1)·PaddedWidth + OutWidth.</summary>
    public int Positions => (Shape.OutHeight - 1) * PaddedWidth + Shape.OutWidth;

    /// <summary>Floats between the rows (channels) of a wide result: <see cref="Positions"/> in whole vectors.</summary>
    public int RowStride => (Positions + MaxLanes - 1) / MaxLanes * MaxLanes;

    /// <summary>
    /// Writes the padded-image offset of every tap: in the weights' order (c, ky, kx), or with the kernel row
    /// outermost (ky, c, kx), so that the taps reading one kernel row are a contiguous range
    /// (<see cref="KernelRows"/> skips the rows a run of positions only sees as padding).
    /// </summary>
    public void WriteTaps(int* taps, bool kernelRowOutermost)
    {
        int k = 0;
        for (int outer = 0; outer < (kernelRowOutermost ? Shape.KernelH : Shape.Channels); outer++)
            for (int middle = 0; middle < (kernelRowOutermost ? Shape.Channels : Shape.KernelH); middle++)
                for (int kx = 0; kx < Shape.KernelW; kx++)
                {
                    (int c, int ky) = kernelRowOutermost ? (middle, outer) : (outer, middle);
                    taps[k++] = c * PaddedPlane + ky * PaddedWidth + kx;
                }
    }

    /// <summary>
    /// The kernel rows [firstRow, endRow) whose taps reach the image, not only its zero padding, for some wide
    /// position in [firstPosition, endPosition): position q reads padded row q / PaddedWidth + ky. Empty when
    /// endRow ≤ firstRow.
    /// </summary>
    public void KernelRows(int firstPosition, int endPosition, out int firstRow, out int endRow)
    {
        int top = firstPosition / PaddedWidth, bottom = (endPosition - 1) / PaddedWidth;
        firstRow = Math.Max(0, Shape.PadH - bottom);
        endRow = Math.Min(Shape.KernelH, Shape.PadH + Shape.Height - top);
    }

    /// <summary>Copies an image into the interior of a padded image (whose border stays as it is: zero).</summary>
    public void Pad(float* image, float* padded) =>
        CopyPlanes(image, Shape.Height * Shape.Width, Shape.Width,
            padded + Shape.PadH * PaddedWidth + Shape.PadW, PaddedPlane, PaddedWidth, Shape.Channels, Shape.Height, Shape.Width);

    /// <summary>The inverse of <see cref="Pad"/>: copies the interior of a padded image into an image.</summary>
    public void Unpad(float* padded, float* image) =>
        CopyPlanes(padded + Shape.PadH * PaddedWidth + Shape.PadW, PaddedPlane, PaddedWidth,
            image, Shape.Height * Shape.Width, Shape.Width, Shape.Channels, Shape.Height, Shape.Width);

    /// <summary>Copies the real outputs of <paramref name="rows"/> wide rows into NCHW planes.</summary>
    public void Crop(float* wide, int rows, float* planes) =>
        CopyPlanes(wide, RowStride, PaddedWidth, planes, Shape.OutSpatial, Shape.OutWidth, rows, Shape.OutHeight, Shape.OutWidth);

    /// <summary>The inverse of <see cref="Crop"/>: spreads NCHW planes over wide rows (whose gaps stay as they are: zero).</summary>
    public void Spread(float* planes, int rows, float* wide) => Spread(planes, rows, wide, RowStride);

    /// <summary><see cref="Spread(float*, int, float*)"/> onto rows <paramref name="rowStride"/> floats apart.</summary>
    public void Spread(float* planes, int rows, float* wide, int rowStride) =>
        CopyPlanes(planes, Shape.OutSpatial, Shape.OutWidth, wide, rowStride, PaddedWidth, rows, Shape.OutHeight, Shape.OutWidth);

    /// <summary>
    /// Floats between the output-gradient rows of the scattered input gradient: its tiles read each row from
    /// KernelW − 1 before its start to KernelW − 1 past its wide positions, so a row is followed by at least
    /// KernelW − 1 zeros (whole vectors).
    /// </summary>
    public int ScatterRowStride => (Positions + Shape.KernelW - 1 + MaxLanes - 1) / MaxLanes * MaxLanes;

    /// <summary>Zeros before the first of those rows (at least KernelW − 1, whole vectors).</summary>
    public int ScatterLead => (Shape.KernelW - 1 + MaxLanes - 1) / MaxLanes * MaxLanes;

    private static void CopyPlanes(float* from, nint fromPlane, nint fromPitch, float* to, nint toPlane, nint toPitch,
        int planes, int rows, int width)
    {
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < rows; y++)
                ShortCopy.Copy(from + p * fromPlane + y * fromPitch, to + p * toPlane + y * toPitch, width);
    }
}

/// <summary>
/// Direct convolution for few channels (<see cref="Conv2dAlgorithm.Direct"/>), where im2col+GEMM spends most of its
/// time copying patches. Each image is copied once into a zero-padded buffer; the forward pass and the input gradient
/// are register-tiled products of packed weights with that buffer read at each tap's offset
/// (<see cref="DirectConv2dTiles.Correlate{TSimd, TVector, TRows, TCols}"/>); the input gradient is the forward
/// convolution of the output gradient, padded by kernel − 1 − pad, with the weights transposed and flipped. Taps are
/// ordered kernel row first, so a tile skips the kernel rows that only meet padding for its positions. Where that
/// padding is wider than the forward pass's (<see cref="ScattersInputGradient"/>: most taps would read zeros), the
/// input gradient is scattered instead: per kernel row, the same tiles multiply the output gradient on the forward
/// pass's wide rows, shifted by each kernel column, by that row's weights and add the products into a padded
/// input-gradient image at the kernel row's offset. The filter
/// gradient's tiles run through a few images at a time (<see cref="FilterImages"/>) into lane-wise partials per
/// thread, reduced across lanes once at the end. Images are split
/// across <see cref="WorkerPool"/> threads in fixed contiguous ranges; filter-gradient partials are added in thread
/// order, so results are bit-identical run to run for a given thread count.
/// </summary>
internal static unsafe class DirectConv2d
{
    /// <summary>Stride 1 and padding below the kernel size (so the input gradient's padding is not negative).</summary>
    public static bool Supports(in Conv2dShape s) =>
        s.StrideH == 1 && s.StrideW == 1 && s.PadH < s.KernelH && s.PadW < s.KernelW;

    /// <summary>
    /// Whether the input gradient is scattered on the forward geometry rather than correlated on its own: when the
    /// forward padding is below half the kernel − 1 on either axis, so that the gathering form's output-gradient
    /// padding (kernel − 1 − pad) is wider. The scattered form also adds the wide gaps' zero gradients times a
    /// weight into the image: the same sums for finite weights, but an infinite or NaN weight then reaches a few
    /// more input-gradient elements than the reference's.
    /// </summary>
    public static bool ScattersInputGradient(in Conv2dShape s) => 2 * s.PadH < s.KernelH - 1 || 2 * s.PadW < s.KernelW - 1;

    /// <summary>
    /// Whether the forward pass and the filter gradient put output channels along the lanes
    /// (<see cref="DirectConv2dTiles.ChannelCorrelate{TSimd, TVector, TRows, TCols}"/>,
    /// <see cref="DirectConv2dTiles.ChannelFilterGradient{TSimd, TVector, TRows, TCols}"/>) instead of wide positions:
    /// when the channels fill whole vectors of every width and the wide rows would leave a fifth of the lanes idle
    /// (short rows, whose wide gaps of kernel − 1 columns are a large share: LeNet-5's second layer uses 69 %).
    /// </summary>
    public static bool ChannelLanes(in Conv2dShape s)
    {
        var layout = new WideLayout(s);
        int lanes = (layout.Positions + WideLayout.MaxLanes - 1) / WideLayout.MaxLanes * WideLayout.MaxLanes;
        return s.OutChannels % WideLayout.MaxLanes == 0 && 5L * s.OutSpatial < 4L * lanes;
    }

    /// <summary>The input gradient's geometry: the output gradient convolved with the flipped, transposed weights.</summary>
    public static Conv2dShape InputGradientShape(in Conv2dShape s) =>
        new(s.OutChannels, s.OutHeight, s.OutWidth, s.Channels, s.KernelH, s.KernelW, 1, 1,
            s.KernelH - 1 - s.PadH, s.KernelW - 1 - s.PadW);

    /// <summary>Floats shared by all threads: the packed weights and the tap offsets (stored as ints; the scattered
    /// input gradient's are the shifted output-gradient rows' offsets, then the kernel rows').</summary>
    public static int SharedWorkspace(in Conv2dShape s) =>
        checked(s.WeightsLength + Math.Max(Math.Max(s.Channels, s.OutChannels) * s.KernelH * s.KernelW,
            s.OutChannels * s.KernelW + s.KernelH));

    /// <summary>Floats per thread for one pass: the padded image and the wide result; the filter gradient holds
    /// <see cref="FilterImages"/> of each, plus its lane-wise partials and its sum.</summary>
    public static int PerThreadWorkspace(in Conv2dShape s, ConvolutionPass pass)
    {
        if (pass == ConvolutionPass.BackwardInput && ScattersInputGradient(s))
        {
            // The output gradient on wide rows and the padded input gradient.
            var forward = new WideLayout(s);
            return checked(forward.ScatterLead + s.OutChannels * forward.ScatterRowStride + forward.PaddedLength);
        }
        if (pass == ConvolutionPass.BackwardInput)
        {
            var gradient = new WideLayout(InputGradientShape(s));
            return checked(gradient.PaddedLength + s.Channels * gradient.RowStride);
        }
        var layout = new WideLayout(s);
        long image = layout.PaddedLength + (long)s.OutChannels * layout.RowStride;
        return checked((int)(pass == ConvolutionPass.Forward
            ? image
            : FilterImages(s) * image + (long)s.WeightsLength * (WideLayout.MaxLanes + 1)));
    }

    /// <summary>
    /// Images the filter gradient's tiles run through before adding to the lane-wise partials (fewer partial
    /// updates and tile calls): up to 8, as many as keep their padded inputs and wide gradients within 32 KiB (L1:
    /// each tile call streams them again), but at least enough for about 48 vectors of positions per call.
    /// A function of the shape only, so the summation order never changes.
    /// </summary>
    public static int FilterImages(in Conv2dShape s)
    {
        var layout = new WideLayout(s);
        long image = layout.PaddedLength + (long)s.OutChannels * layout.RowStride;
        int vectors = (layout.Positions + WideLayout.MaxLanes - 1) / WideLayout.MaxLanes;
        return (int)Math.Clamp(Math.Max(8192 / image, 48 / vectors), 1, 8);
    }

    /// <summary>Start of part <paramref name="part"/>'s share of the workspace (after the shared floats).</summary>
    public static float* ThreadBuffer(in Conv2dShape s, ConvolutionPass pass, float* workspace, int part) =>
        workspace + SharedWorkspace(s) + (nint)part * PerThreadWorkspace(s, pass);

    /// <summary>Parts the batch is split into, given the caller's workspace.</summary>
    public static int Parts(in Conv2dShape s, ConvolutionPass pass, int batch, int workspaceLength) =>
        Math.Min(Math.Min(WorkerPool.ThreadCount, batch), (workspaceLength - SharedWorkspace(s)) / PerThreadWorkspace(s, pass));

    public static void Forward<TEpilogue>(in Conv2dShape s, int batch, float* input, float* weights, float* output,
        float* workspace, int workspaceLength, in TEpilogue epilogue) where TEpilogue : struct, IEpilogue
    {
        if (ChannelLanes(s))
        {
            // packed[(c, ky, kx), o] = weights[o, c, ky, kx]
            GemmPacking.TransposeBlock(weights, s.PatchLength, workspace, s.OutChannels, s.OutChannels, s.PatchLength);
            Run(ConvolutionPass.Forward, s, new WideLayout(s), batch, input, null, output, workspace, workspaceLength, epilogue);
            return;
        }
        int kernel = s.KernelH * s.KernelW;
        // packed[o, (ky, c, kx)] = weights[o, c, ky, kx]
        PackRows(weights, s.OutChannels, s.PatchLength, s.Channels, s.KernelH, s.KernelW, channelStride: kernel,
            kernelRowStride: s.KernelW, kernelColumnStride: 1, workspace);
        Run(ConvolutionPass.Forward, s, new WideLayout(s), batch, input, null, output, workspace, workspaceLength, epilogue);
    }

    public static void BackwardInput(in Conv2dShape s, int batch, float* gradOutput, float* weights, float* gradInput,
        float* workspace, int workspaceLength)
    {
        int kernel = s.KernelH * s.KernelW;
        if (ScattersInputGradient(s))
        {
            // Transposed: packed[c, (ky, o, kx)] = weights[o, c, ky, kx].
            PackRows(weights, s.Channels, kernel, s.OutChannels, s.KernelH, s.KernelW, channelStride: s.Channels * kernel,
                kernelRowStride: s.KernelW, kernelColumnStride: 1, workspace);
            Run(ConvolutionPass.BackwardInput, s, new WideLayout(s), batch, gradOutput, null, gradInput, workspace,
                workspaceLength, new NoEpilogue());
            return;
        }
        // Transposed and flipped: packed[c, (ky', o, kx')] = weights[o, c, KH−1−ky', KW−1−kx'].
        PackRows(weights + kernel - 1, s.Channels, kernel, s.OutChannels, s.KernelH, s.KernelW,
            channelStride: s.Channels * kernel, kernelRowStride: -s.KernelW, kernelColumnStride: -1, workspace);
        Run(ConvolutionPass.BackwardInput, s, new WideLayout(InputGradientShape(s)), batch, gradOutput, null, gradInput,
            workspace, workspaceLength, new NoEpilogue());
    }

    /// <summary>Writes (or, when <paramref name="accumulate"/>, adds) the filter gradient summed over the batch.</summary>
    public static void BackwardFilter(in Conv2dShape s, int batch, float* input, float* gradOutput, float* gradWeights,
        float* workspace, int workspaceLength, bool accumulate)
    {
        int parts = Run(ConvolutionPass.BackwardFilter, s, new WideLayout(s), batch, input, gradOutput, null, workspace,
            workspaceLength, new NoEpilogue());
        // Fixed-order reduction of the parts' sums.
        var total = new Span<float>(gradWeights, s.WeightsLength);
        for (int part = 0; part < parts; part++)
        {
            var buffers = new FilterBuffers(new WideLayout(s), ThreadBuffer(s, ConvolutionPass.BackwardFilter, workspace, part));
            var sum = new ReadOnlySpan<float>(buffers.Sum, s.WeightsLength);
            if (part == 0 && !accumulate) sum.CopyTo(total);
            else System.Numerics.Tensors.TensorPrimitives.Add(total, sum, total);
        }
    }

    /// <summary>
    /// Packs the weights for <see cref="DirectConv2dTiles.Correlate{TSimd, TVector, TRows, TCols}"/>: per block of
    /// rows (<see cref="NextBlock"/>), taps in (ky, channel, kx) order with the block's rows adjacent. Element
    /// (r, ky, channel, kx) is <c>source[r·rowStride + channel·channelStride + ky·kernelRowStride + kx·kernelColumnStride]</c>.
    /// </summary>
    private static void PackRows(float* source, int rows, int rowStride, int channels, int kernelH, int kernelW,
        int channelStride, int kernelRowStride, int kernelColumnStride, float* packed)
    {
        int depth = kernelH * channels * kernelW;
        for (int first = 0, blocks = BlockCount(rows, DirectConv2dTiles.CorrelateRows); first < rows; blocks--)
        {
            int count = NextBlock(rows - first, blocks);
            float* target = packed + (nint)first * depth, rowStart = source + (nint)first * rowStride;
            for (int ky = 0; ky < kernelH; ky++)
                for (int channel = 0; channel < channels; channel++)
                    for (int kx = 0; kx < kernelW; kx++, target += count)
                    {
                        float* column = rowStart + (nint)channel * channelStride + (nint)ky * kernelRowStride + (nint)kx * kernelColumnStride;
                        for (int r = 0; r < count; r++) target[r] = column[(nint)r * rowStride];
                    }
            first += count;
        }
    }

    /// <summary>Blocks of at most <paramref name="most"/> that <paramref name="count"/> items are split into.</summary>
    internal static int BlockCount(int count, int most) => (count + most - 1) / most;

    /// <summary>Items in the next block when <paramref name="remaining"/> items go into <paramref name="blocks"/>
    /// blocks as evenly as possible (17 in blocks of at most 8: 5, 6, 6).</summary>
    internal static int NextBlock(int remaining, int blocks) => remaining / blocks;

    /// <summary>Writes the tap table, splits the batch over the workspace's thread buffers and runs the pass;
    /// returns the number of parts. <paramref name="s"/> sizes the workspace, <paramref name="layout"/> is the
    /// geometry the pass computes on (the input gradient's differs).</summary>
    private static int Run<TEpilogue>(ConvolutionPass pass, in Conv2dShape s, in WideLayout layout, int batch,
        float* source, float* gradOutput, float* result, float* workspace, int workspaceLength, in TEpilogue epilogue)
        where TEpilogue : struct, IEpilogue
    {
        int* taps = (int*)(workspace + s.WeightsLength);
        bool scatter = pass == ConvolutionPass.BackwardInput && ScattersInputGradient(s);
        if (scatter)
        {
            // Each output-gradient row shifted back by each kernel column, then each kernel row's offset in the
            // padded input gradient.
            for (int o = 0, t = 0; o < s.OutChannels; o++)
                for (int kx = 0; kx < s.KernelW; kx++) taps[t++] = o * layout.ScatterRowStride - kx;
            for (int ky = 0; ky < s.KernelH; ky++) taps[s.OutChannels * s.KernelW + ky] = ky * layout.PaddedWidth;
        }
        // Kernel row first for the wide-position tiles of the forward pass and the input gradient (they skip the rows
        // that only meet padding); the weights' order for the filter gradient and the channel-lane forward pass.
        else layout.WriteTaps(taps, kernelRowOutermost: pass == ConvolutionPass.Forward ? !ChannelLanes(s) : pass == ConvolutionPass.BackwardInput);
        if (batch == 0) return 0;
        int parts = Parts(s, pass, batch, workspaceLength);
        var job = DirectConvolutionJob<TEpilogue>.ForCurrentThread;
        job.Set(pass, scatter, s, layout, batch, source, gradOutput, result, workspace, taps, epilogue, KernelIsaSelector.Current);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
        return parts;
    }
}

/// <summary>One thread's buffers in the filter-gradient pass, carved from its share of the workspace.</summary>
internal readonly unsafe struct FilterBuffers
{
    /// <summary>Zero-padded input images, <see cref="WideLayout.PaddedLength"/> floats apart.</summary>
    public readonly float* Padded;
    /// <summary>Output gradients on wide rows (zeros in the wide gaps, so dropped positions add nothing),
    /// <see cref="WideImageLength"/> floats apart.</summary>
    public readonly float* Wide;
    /// <summary>Images in <see cref="Padded"/> and <see cref="Wide"/>.</summary>
    public readonly int Images;
    public readonly int WideImageLength;
    /// <summary>Lane-wise partial sums, MaxLanes floats per weight.</summary>
    public readonly float* Partial;
    /// <summary>The thread's filter-gradient sum.</summary>
    public readonly float* Sum;

    public FilterBuffers(in WideLayout layout, float* start)
    {
        Images = DirectConv2d.FilterImages(layout.Shape);
        WideImageLength = layout.Shape.OutChannels * layout.RowStride;
        Padded = start;
        Wide = Padded + (nint)Images * layout.PaddedLength;
        Partial = Wide + (nint)Images * WideImageLength;
        Sum = Partial + (nint)layout.Shape.WeightsLength * WideLayout.MaxLanes;
    }
}

/// <summary>One direct-convolution pass over a batch, split into fixed contiguous ranges of images.</summary>
internal sealed unsafe class DirectConvolutionJob<TEpilogue> : ParallelJob where TEpilogue : struct, IEpilogue
{
    [ThreadStatic] private static DirectConvolutionJob<TEpilogue>? t_instance;

    private ConvolutionPass _pass;
    private bool _scatter;
    private Conv2dShape _workspaceShape;
    private WideLayout _layout;
    private int _batch;
    private float* _source, _gradOutput, _result, _workspace;
    private int* _taps;
    private TEpilogue _epilogue;
    private KernelIsa _isa;

    public static DirectConvolutionJob<TEpilogue> ForCurrentThread => t_instance ??= new DirectConvolutionJob<TEpilogue>();

    public void Set(ConvolutionPass pass, bool scatter, in Conv2dShape workspaceShape, in WideLayout layout, int batch,
        float* source, float* gradOutput, float* result, float* workspace, int* taps, in TEpilogue epilogue, KernelIsa isa)
    {
        (_pass, _scatter, _workspaceShape, _layout, _batch, _isa) = (pass, scatter, workspaceShape, layout, batch, isa);
        _source = source;
        _gradOutput = gradOutput;
        _result = result;
        _workspace = workspace;
        _taps = taps;
        _epilogue = epilogue;
    }

    public void Clear() => _epilogue = default;

    public override void Execute(int part, int partCount)
    {
        int first = (int)((long)_batch * part / partCount), end = (int)((long)_batch * (part + 1) / partCount);
        switch (_isa)
        {
            case KernelIsa.Avx512: Images<Simd512, Vector512<float>>(part, first, end); break;
            case KernelIsa.Avx2: Images<Simd256, Vector256<float>>(part, first, end); break;
            case KernelIsa.Vector: Images<SimdPortable, Vector<float>>(part, first, end); break;
            default: Images<SimdScalar, float>(part, first, end); break;
        }
    }

    private void Images<TSimd, TVector>(int part, int first, int end) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        float* buffer = DirectConv2d.ThreadBuffer(_workspaceShape, _pass, _workspace, part);
        if (_pass == ConvolutionPass.BackwardFilter && DirectConv2d.ChannelLanes(_layout.Shape))
            ChannelFilterGradient<TSimd, TVector>(new FilterBuffers(_layout, buffer), first, end);
        else if (_pass == ConvolutionPass.BackwardFilter) FilterGradient<TSimd, TVector>(new FilterBuffers(_layout, buffer), first, end);
        else if (_scatter) ScatterInputGradient<TSimd, TVector>(buffer, first, end);
        else if (_pass == ConvolutionPass.Forward && DirectConv2d.ChannelLanes(_layout.Shape)) ChannelCorrelate<TSimd, TVector>(buffer, first, end);
        else Correlate<TSimd, TVector>(buffer, first, end);
    }

    /// <summary>Forward pass or input gradient: pad, multiply by the packed weights on wide rows, crop.</summary>
    private void Correlate<TSimd, TVector>(float* padded, int first, int end) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        WideLayout layout = _layout;
        Conv2dShape s = layout.Shape;
        float* wide = padded + layout.PaddedLength;
        new Span<float>(padded, layout.PaddedLength).Clear();
        int rows = s.OutChannels, depth = s.PatchLength, lanes = TSimd.Count, tapsPerRow = depth / s.KernelH;
        int vectors = (layout.Positions + lanes - 1) / lanes, stride = layout.RowStride;
        float* packed = _workspace;
        for (int n = first; n < end; n++)
        {
            layout.Pad(_source + (nint)n * s.InputImageLength, padded);
            for (int row = 0, blocks = DirectConv2d.BlockCount(rows, DirectConv2dTiles.CorrelateRows); row < rows; blocks--)
            {
                int count = DirectConv2d.NextBlock(rows - row, blocks);
                float* weights = packed + (nint)row * depth, output = wide + (nint)row * stride;
                for (int v = 0; v < vectors; v += DirectConv2dTiles.CorrelateColumns)
                {
                    int columns = Math.Min(DirectConv2dTiles.CorrelateColumns, vectors - v);
                    layout.KernelRows(v * lanes, Math.Min((v + columns) * lanes, layout.Positions), out int firstRow, out int endRow);
                    int firstTap = Math.Min(firstRow, endRow) * tapsPerRow, tapCount = Math.Max(0, endRow - firstRow) * tapsPerRow;
                    DirectConv2dTiles.CorrelateAny<TSimd, TVector>(count, columns, tapCount, _taps + firstTap,
                        weights + (nint)firstTap * count, padded + v * lanes, output + v * lanes, stride, accumulate: false);
                }
                row += count;
            }
            float* image = _result + (nint)n * s.OutputImageLength;
            layout.Crop(wide, rows, image);
            for (int o = 0; o < rows; o++)
                _epilogue.Apply(new Span<float>(image + (nint)o * s.OutSpatial, s.OutSpatial), o, 0);
        }
    }

    /// <summary>
    /// Forward pass with output channels along the lanes (<see cref="DirectConv2d.ChannelLanes"/>): pad; per vector
    /// of channels and runs of positions along two output rows, multiply by the packed [tap, channel] weights into
    /// [position, channel]; transpose into the output image; apply the epilogue.
    /// </summary>
    private void ChannelCorrelate<TSimd, TVector>(float* padded, int first, int end)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        WideLayout layout = _layout;
        Conv2dShape s = layout.Shape;
        int outChannels = s.OutChannels, depth = s.PatchLength, lanes = TSimd.Count;
        float* transposed = padded + layout.PaddedLength;
        new Span<float>(padded, layout.PaddedLength).Clear();
        for (int n = first; n < end; n++)
        {
            layout.Pad(_source + (nint)n * s.InputImageLength, padded);
            for (int o = 0; o < outChannels; o += lanes)
                for (int y = 0, rowBlocks = DirectConv2d.BlockCount(s.OutHeight, DirectConv2dTiles.ChannelCorrelateRows); y < s.OutHeight; rowBlocks--)
                {
                    int rowCount = DirectConv2d.NextBlock(s.OutHeight - y, rowBlocks);
                    for (int x = 0, blocks = DirectConv2d.BlockCount(s.OutWidth, DirectConv2dTiles.ChannelCorrelateColumns); x < s.OutWidth; blocks--)
                    {
                        int count = DirectConv2d.NextBlock(s.OutWidth - x, blocks);
                        DirectConv2dTiles.ChannelCorrelateAny<TSimd, TVector>(rowCount, count, depth, _taps, _workspace + o,
                            outChannels, padded + y * layout.PaddedWidth + x, layout.PaddedWidth,
                            transposed + (nint)(y * s.OutWidth + x) * outChannels + o, (nint)s.OutWidth * outChannels, outChannels);
                        x += count;
                    }
                    y += rowCount;
                }
            float* image = _result + (nint)n * s.OutputImageLength;
            GemmPacking.TransposeBlock(transposed, outChannels, image, s.OutSpatial, s.OutSpatial, outChannels);
            for (int o = 0; o < outChannels; o++)
                _epilogue.Apply(new Span<float>(image + (nint)o * s.OutSpatial, s.OutSpatial), o, 0);
        }
    }

    /// <summary>
    /// Scattered input gradient (<see cref="DirectConv2d.ScattersInputGradient"/>): spread the output gradient on
    /// wide rows; per block of input channels, kernel row ky and run of positions q, add
    /// Σ_(o, kx) weights[o, c, ky, kx] · gradient[o, q − kx] into the padded input gradient at q + ky·PaddedWidth
    /// (every pair of a gradient position and a tap once: position q − kx meets tap (ky, kx) at its own scatter
    /// target); copy the interior out. The wide gaps and the zeros around the rows (shifts past a row's ends land
    /// there) add nothing to finite sums.
    /// </summary>
    private void ScatterInputGradient<TSimd, TVector>(float* buffer, int first, int end)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        WideLayout layout = _layout;
        Conv2dShape s = layout.Shape;
        int rows = s.Channels, depth = s.OutChannels * s.KernelW, lanes = TSimd.Count, stride = layout.ScatterRowStride;
        // Every shifted position q − kx with q − kx < Positions.
        int vectors = (layout.Positions + s.KernelW - 1 + lanes - 1) / lanes, plane = layout.PaddedPlane;
        float* wide = buffer + layout.ScatterLead, padded = wide + (nint)s.OutChannels * stride;
        int* shiftedRows = _taps, kernelRows = _taps + depth;
        // The lead, wide gaps and row ends stay zero; Spread only writes the real positions.
        new Span<float>(buffer, layout.ScatterLead + s.OutChannels * stride).Clear();
        for (int n = first; n < end; n++)
        {
            layout.Spread(_source + (nint)n * s.OutputImageLength, s.OutChannels, wide, stride);
            new Span<float>(padded, layout.PaddedLength).Clear();
            for (int row = 0, blocks = DirectConv2d.BlockCount(rows, DirectConv2dTiles.CorrelateRows); row < rows; blocks--)
            {
                int count = DirectConv2d.NextBlock(rows - row, blocks);
                float* weights = _workspace + (nint)row * s.KernelH * depth;
                for (int ky = 0; ky < s.KernelH; ky++, weights += (nint)depth * count)
                {
                    float* output = padded + (nint)row * plane + kernelRows[ky];
                    for (int v = 0; v < vectors; v += DirectConv2dTiles.CorrelateColumns)
                        DirectConv2dTiles.CorrelateAny<TSimd, TVector>(count, Math.Min(DirectConv2dTiles.CorrelateColumns, vectors - v),
                            depth, shiftedRows, weights, wide + v * lanes, output + v * lanes, plane, accumulate: true);
                }
                row += count;
            }
            layout.Unpad(padded, _result + (nint)n * s.InputImageLength);
        }
    }

    /// <summary>
    /// Filter gradient with output channels along the lanes (<see cref="DirectConv2d.ChannelLanes"/>),
    /// in the same buffers: per image, the padded input and the output gradient transposed to [position, channel]
    /// (in the wide-gradient space); the sums, weights transposed to [tap, channel], in the partials; transposed
    /// into the thread's sum at the end.
    /// </summary>
    private void ChannelFilterGradient<TSimd, TVector>(in FilterBuffers buffers, int first, int end)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        WideLayout layout = _layout;
        Conv2dShape s = layout.Shape;
        int outChannels = s.OutChannels, lanes = TSimd.Count;
        int paddedLength = layout.PaddedLength, wideLength = buffers.WideImageLength, plane = layout.PaddedPlane;
        new Span<float>(buffers.Padded, buffers.Images * paddedLength).Clear();
        new Span<float>(buffers.Partial, s.WeightsLength).Clear();
        for (int n = first; n < end; n += buffers.Images)
        {
            int images = Math.Min(buffers.Images, end - n);
            for (int i = 0; i < images; i++)
            {
                layout.Pad(_source + (nint)(n + i) * s.InputImageLength, buffers.Padded + (nint)i * paddedLength);
                GemmPacking.TransposeBlock(_gradOutput + (nint)(n + i) * s.OutputImageLength, s.OutSpatial,
                    buffers.Wide + (nint)i * wideLength, outChannels, outChannels, s.OutSpatial);
            }
            for (int c = 0; c < s.Channels; c++)
                for (int ky = 0, rowBlocks = DirectConv2d.BlockCount(s.KernelH, DirectConv2dTiles.ChannelFilterRows); ky < s.KernelH; rowBlocks--)
                {
                    int rowCount = DirectConv2d.NextBlock(s.KernelH - ky, rowBlocks);
                    for (int kx = 0, columnBlocks = DirectConv2d.BlockCount(s.KernelW, DirectConv2dTiles.ChannelFilterColumns); kx < s.KernelW; columnBlocks--)
                    {
                        int columnCount = DirectConv2d.NextBlock(s.KernelW - kx, columnBlocks);
                        float* source = buffers.Padded + (nint)c * plane + ky * layout.PaddedWidth + kx;
                        float* partial = buffers.Partial + ((nint)(c * s.KernelH + ky) * s.KernelW + kx) * outChannels;
                        for (int o = 0; o < outChannels; o += lanes)
                            DirectConv2dTiles.ChannelFilterGradientAny<TSimd, TVector>(rowCount, columnCount, images,
                                s.OutHeight, s.OutWidth, buffers.Wide + o, wideLength, outChannels, source, paddedLength,
                                layout.PaddedWidth, partial + o, (nint)s.KernelW * outChannels, outChannels);
                        kx += columnCount;
                    }
                    ky += rowCount;
                }
        }
        // sum[o, k] = partial[k, o]
        GemmPacking.TransposeBlock(buffers.Partial, outChannels, buffers.Sum, s.PatchLength, s.PatchLength, outChannels);
    }

    /// <summary>Filter gradient of a range of images into the thread's lane-wise partials, reduced at the end.</summary>
    private void FilterGradient<TSimd, TVector>(in FilterBuffers buffers, int first, int end)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        WideLayout layout = _layout;
        Conv2dShape s = layout.Shape;
        int rows = s.OutChannels, depth = s.PatchLength, lanes = TSimd.Count;
        int vectors = (layout.Positions + lanes - 1) / lanes, stride = layout.RowStride;
        int paddedLength = layout.PaddedLength, wideLength = buffers.WideImageLength;
        // Zero padding, wide gaps and slack: garbage there would reach the sums as 0·NaN.
        new Span<float>(buffers.Padded, buffers.Images * paddedLength).Clear();
        new Span<float>(buffers.Wide, buffers.Images * wideLength).Clear();
        new Span<float>(buffers.Partial, s.WeightsLength * lanes).Clear();
        for (int n = first; n < end; n += buffers.Images)
        {
            int images = Math.Min(buffers.Images, end - n);
            for (int i = 0; i < images; i++)
            {
                layout.Pad(_source + (nint)(n + i) * s.InputImageLength, buffers.Padded + (nint)i * paddedLength);
                layout.Spread(_gradOutput + (nint)(n + i) * s.OutputImageLength, rows, buffers.Wide + (nint)i * wideLength);
            }
            int rowBlockCount = rows <= DirectConv2dTiles.FilterRows ? 1 : DirectConv2d.BlockCount(rows, DirectConv2dTiles.FilterRowBlock);
            for (int row = 0, rowBlocks = rowBlockCount; row < rows; rowBlocks--)
            {
                int rowCount = DirectConv2d.NextBlock(rows - row, rowBlocks);
                int mostTaps = Math.Min(DirectConv2dTiles.FilterTaps, DirectConv2dTiles.FilterAccumulators / rowCount);
                for (int tap = 0, tapBlocks = DirectConv2d.BlockCount(depth, mostTaps); tap < depth; tapBlocks--)
                {
                    int tapCount = DirectConv2d.NextBlock(depth - tap, tapBlocks);
                    DirectConv2dTiles.FilterGradientAny<TSimd, TVector>(rowCount, tapCount, images, vectors,
                        buffers.Wide + (nint)row * stride, stride, wideLength, buffers.Padded, paddedLength, _taps + tap,
                        buffers.Partial + ((nint)row * depth + tap) * lanes, (nint)depth * lanes);
                    tap += tapCount;
                }
                row += rowCount;
            }
        }
        for (int i = 0; i < s.WeightsLength; i++) buffers.Sum[i] = TSimd.Sum(TSimd.Load(buffers.Partial + (nint)i * lanes));
    }
}
