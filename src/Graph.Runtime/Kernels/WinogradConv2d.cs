using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Graph.Runtime.Kernels;

/// <summary>
/// 3×3 stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3): each 2×2 block of outputs ("tile") comes from
/// a 4×4 block of input through 16 multiplies per channel pair instead of 36. Per image group: the input, padded and
/// channels-last, is transformed tile by tile (V = Bᵀ d B), the filters once per call (U = G g Gᵀ); then for each of
/// the 16 transform points ξ one GEMM M[ξ] (tiles × out) = V[ξ] (tiles × in) · U[ξ] (in × out) with the existing
/// kernels; then the output transform (Y = Aᵀ M A). Tiles go in chunks of a few images (<see cref="ChunkFloats"/>),
/// not the whole batch's V and M (25 MB for lenet-seed's second layer).
/// The input gradient is the same computation on the output gradient with the flipped, channel-transposed filters.
/// The filter gradient differentiates the same tiling: ∂U[ξ] = Σ_tiles V[ξ]ᵀ · (A ∂Y Aᵀ)[ξ], 16 GEMMs summing over
/// tiles, then ∂g = Gᵀ ∂U G.
/// The transforms run channels-last, vectorized across channels. Measured slower (lenet-seed's 64→128 layer, 14²,
/// batch 64, one Zen 5 core): channels-first in and out, transforms vectorized across a tile row's tiles, V and M
/// tiles-last so that no product packs with a transpose (forward 7.2 against 5.7 ms, input gradient 8.2 against
/// 6.4 ms): rows of 7 tiles leave half of each vector idle, and splitting input columns into even and odd and
/// interleaving the outputs cost more than the transposes they replace.
/// Batches split across <see cref="WorkerPool"/> threads in fixed contiguous ranges of images. Forward and input
/// gradient: every output's arithmetic is independent of the split, so results do not depend on the thread count;
/// filter gradient: each thread sums its images, then the partial sums are added in thread order (bit-identical for
/// a given thread count and workspace).
/// </summary>
internal static unsafe class WinogradConv2d
{
    /// <summary>Transform points per tile (4×4).</summary>
    internal const int Points = 16;

    /// <summary>Channel counts are padded to this in the channels-last buffers, so every vector width loads whole vectors.</summary>
    internal const int ChannelAlignment = 16;

    /// <summary>
    /// Floats of V and M per chunk of tiles: 2 MiB. On lenet-seed's 64→128 layer (14², batch 64; Zen 5, 1 MiB of L2
    /// per core) 4 and 8 MiB measured the same, 1 MiB slower (its 49-tile products leave the GEMMs too few rows).
    /// </summary>
    internal const int ChunkFloats = 512 * 1024;

    /// <summary>The most tiles per chunk: rows enough for the GEMMs (few channels would otherwise make huge chunks).</summary>
    internal const int MaxChunkTiles = 256;

    /// <summary>3×3, stride 1, and a padding whose input gradient is a convolution too (at most 2).</summary>
    public static bool Supports(in Conv2dShape s) =>
        s.KernelH == 3 && s.KernelW == 3 && s.StrideH == 1 && s.StrideW == 1
        && s.PadH <= 2 && s.PadW <= 2;

    /// <summary>The convolution that <paramref name="pass"/> computes: the layer itself, or for the input gradient
    /// the output gradient convolved with the flipped, transposed filters.</summary>
    private static Conv2dShape Computed(in Conv2dShape s, ConvolutionPass pass) =>
        pass == ConvolutionPass.BackwardInput ? DirectConv2d.InputGradientShape(s) : s;

    /// <summary>Floats shared by the threads: the transformed filters (or their summed gradient), then the same
    /// packed for the GEMMs.</summary>
    public static int SharedWorkspace(in Conv2dShape s, ConvolutionPass pass) => Plan(s, pass).SharedLength;

    /// <summary>Floats per thread: padded input images, wide output (gradient) images, one chunk's V and M, and for
    /// the filter gradient the thread's partial sum of ∂U.</summary>
    public static int PerThreadWorkspace(in Conv2dShape s, ConvolutionPass pass) => Plan(s, pass).PerThreadLength;

    private static WinogradPlan Plan(in Conv2dShape s, ConvolutionPass pass) => new(Computed(s, pass), pass);

    public static void Forward<TEpilogue>(in Conv2dShape s, int batch, float* input, float* weights, float* output,
        float* workspace, int workspaceLength, in TEpilogue epilogue) where TEpilogue : struct, IEpilogue =>
        Run(Plan(s, ConvolutionPass.Forward), batch, input, weights, output, workspace, workspaceLength, epilogue);

    public static void BackwardInput(in Conv2dShape s, int batch, float* gradOutput, float* weights, float* gradInput,
        float* workspace, int workspaceLength) =>
        Run(Plan(s, ConvolutionPass.BackwardInput), batch, gradOutput, weights, gradInput,
            workspace, workspaceLength, new NoEpilogue());

    /// <summary>Writes (or, when <paramref name="accumulate"/>, adds) the filter gradient summed over the batch (batch ≥ 1).</summary>
    public static void BackwardFilter(in Conv2dShape s, int batch, float* input, float* gradOutput, float* gradWeights,
        float* workspace, int workspaceLength, bool accumulate)
    {
        var plan = Plan(s, ConvolutionPass.BackwardFilter);
        int parts = Parts(plan, batch, workspaceLength);
        var job = WinogradJob<NoEpilogue>.ForCurrentThread;
        job.Set(plan, batch, input, gradOutput, null, workspace, new NoEpilogue(), KernelIsaSelector.Current);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
        // Fixed-order reduction of the parts' sums into the shared region, then back through the filter transform.
        var total = new Span<float>(workspace, Points * s.Channels * s.OutChannels);
        for (int part = 0; part < parts; part++)
        {
            var partial = new ReadOnlySpan<float>(plan.Partial(workspace, part), total.Length);
            if (part == 0) partial.CopyTo(total);
            else System.Numerics.Tensors.TensorPrimitives.Add(total, partial, total);
        }
        TransformFilterGradient(plan, workspace, gradWeights, accumulate);
    }

    private static int Parts(in WinogradPlan plan, int batch, int workspaceLength) =>
        Math.Min(Math.Min(WorkerPool.ThreadCount, batch), (workspaceLength - plan.SharedLength) / plan.PerThreadLength);

    private static void Run<TEpilogue>(in WinogradPlan plan, int batch, float* source, float* weights,
        float* result, float* workspace, int workspaceLength, in TEpilogue epilogue) where TEpilogue : struct, IEpilogue
    {
        if (batch == 0) return;
        KernelIsa isa = KernelIsaSelector.Current;
        TransformFilters(plan, weights, workspace);
        PackFilters(plan, workspace, isa);
        int parts = Parts(plan, batch, workspaceLength);
        var job = WinogradJob<TEpilogue>.ForCurrentThread;
        job.Set(plan, batch, source, null, result, workspace, epilogue, isa);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
    }

    /// <summary>
    /// U[ξ] = (G g Gᵀ)[ξ] for every filter g, with G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], stored in the weights' order
    /// [layer out, layer in] (one sequential pass over both): forward, g = weights[o, c] and U[ξ] is the product's
    /// Bᵀ; input gradient, g = weights[o, c] rotated by 180° and U[ξ] is its B.
    /// </summary>
    private static void TransformFilters(in WinogradPlan plan, float* weights, float* transformed)
    {
        nint filters = (nint)plan.Shape.Channels * plan.Shape.OutChannels;
        for (nint f = 0; f < filters; f++)
        {
            float* g = weights + 9 * f;
            float* u = transformed + f;
            // Rows of t = G g (4×3), each then times Gᵀ.
            if (plan.Flipped)
            {
                TransformFilterRow(g[8], g[7], g[6], u, filters);
                TransformFilterRow((g[8] + g[5] + g[2]) * 0.5f, (g[7] + g[4] + g[1]) * 0.5f, (g[6] + g[3] + g[0]) * 0.5f, u + 4 * filters, filters);
                TransformFilterRow((g[8] - g[5] + g[2]) * 0.5f, (g[7] - g[4] + g[1]) * 0.5f, (g[6] - g[3] + g[0]) * 0.5f, u + 8 * filters, filters);
                TransformFilterRow(g[2], g[1], g[0], u + 12 * filters, filters);
            }
            else
            {
                TransformFilterRow(g[0], g[1], g[2], u, filters);
                TransformFilterRow((g[0] + g[3] + g[6]) * 0.5f, (g[1] + g[4] + g[7]) * 0.5f, (g[2] + g[5] + g[8]) * 0.5f, u + 4 * filters, filters);
                TransformFilterRow((g[0] - g[3] + g[6]) * 0.5f, (g[1] - g[4] + g[7]) * 0.5f, (g[2] - g[5] + g[8]) * 0.5f, u + 8 * filters, filters);
                TransformFilterRow(g[6], g[7], g[8], u + 12 * filters, filters);
            }
        }
    }

    /// <summary>One row (t0, t1, t2) of G g times Gᵀ: four points, <paramref name="pointStride"/> apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransformFilterRow(float t0, float t1, float t2, float* u, nint pointStride)
    {
        u[0] = t0;
        u[pointStride] = (t0 + t1 + t2) * 0.5f;
        u[2 * pointStride] = (t0 - t1 + t2) * 0.5f;
        u[3 * pointStride] = t2;
    }

    /// <summary>
    /// ∂g = Gᵀ ∂U G for every filter (the adjoint of <see cref="TransformFilters"/>' forward transform), ∂U[ξ] stored
    /// [out, in] like the weights, written to or added to <paramref name="gradWeights"/> [out, in, 3, 3].
    /// </summary>
    private static void TransformFilterGradient(in WinogradPlan plan, float* gradU, float* gradWeights, bool accumulate)
    {
        nint filters = (nint)plan.Shape.Channels * plan.Shape.OutChannels;
        Span<float> r = stackalloc float[12];
        for (nint f = 0; f < filters; f++)
        {
            float* u = gradU + f;
            // r = Gᵀ ∂U (3×4), by columns.
            for (int x = 0; x < 4; x++)
            {
                float u0 = u[x * filters], u1 = u[(4 + x) * filters], u2 = u[(8 + x) * filters], u3 = u[(12 + x) * filters];
                r[x] = u0 + (u1 + u2) * 0.5f;
                r[4 + x] = (u1 - u2) * 0.5f;
                r[8 + x] = (u1 + u2) * 0.5f + u3;
            }
            // ∂g = r G (3×3).
            float* g = gradWeights + 9 * f;
            for (int y = 0; y < 3; y++)
            {
                float r0 = r[4 * y], r1 = r[4 * y + 1], r2 = r[4 * y + 2], r3 = r[4 * y + 3];
                float g0 = r0 + (r1 + r2) * 0.5f, g1 = (r1 - r2) * 0.5f, g2 = (r1 + r2) * 0.5f + r3;
                if (accumulate)
                {
                    g[3 * y] += g0;
                    g[3 * y + 1] += g1;
                    g[3 * y + 2] += g2;
                }
                else
                {
                    g[3 * y] = g0;
                    g[3 * y + 1] = g1;
                    g[3 * y + 2] = g2;
                }
            }
        }
    }

    /// <summary>Packs each U[ξ] as the B operand of a full chunk's product, after the transformed filters.</summary>
    private static void PackFilters(in WinogradPlan plan, float* workspace, KernelIsa isa)
    {
        for (int point = 0; point < Points; point++)
            Gemm.Prepack(plan.Product(point, plan.ChunkTiles, null, workspace, null), isa, operandA: false, plan.PackedFilters(workspace, point));
    }

    /// <summary>
    /// One group of images on one thread: pad each channels-last, transform, multiply and inverse-transform its tiles
    /// chunk by chunk, then crop each image back to channels-first and finish it with the epilogue.
    /// </summary>
    internal static void Group<TSimd, TVector, TEpilogue>(in WinogradPlan plan, float* source, float* result, int images,
        float* shared, float* buffer, KernelIsa isa, bool innerParallel, ref TEpilogue epilogue)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TEpilogue : struct, IEpilogue
    {
        Conv2dShape s = plan.Shape;
        var buffers = plan.Buffers(buffer);
        float* padded = buffers.Padded, wide = buffers.Wide, v = buffers.V, m = buffers.M;
        for (int image = 0; image < images; image++)
            PadChannelsLast(plan, source + (nint)image * s.InputImageLength, padded + (nint)image * plan.PaddedImageLength);
        int groupTiles = images * plan.TilesPerImage;
        for (int first = 0, chunks = DirectConv2d.BlockCount(groupTiles, plan.ChunkTiles); first < groupTiles; chunks--)
        {
            int tiles = DirectConv2d.NextBlock(groupTiles - first, chunks);
            TransformInputs<TSimd, TVector>(plan, padded, first, tiles, v);
            bool sharesPacking = Gemm.SharesPackedB(tiles, plan.ChunkTiles, s.OutChannels, isa);
            for (int point = 0; point < Points; point++)
            {
                var product = plan.Product(point, tiles, v, shared, m) with { PackedB = sharesPacking ? plan.PackedFilters(shared, point) : null };
                Gemm.MultiplyUnchecked(product, new NoEpilogue(), isa, innerParallel);
            }
            for (int t = 0; t < tiles; t++)
            {
                var (image, row, column) = plan.Tile(first + t);
                TransformOutput<TSimd, TVector>(m + (nint)t * plan.OutChannelStride, (nint)plan.ChunkTiles * plan.OutChannelStride,
                    plan.OutChannelStride, plan.OutputTile(wide, image, row, column), (nint)plan.WideWidth * plan.OutChannelStride);
            }
            first += tiles;
        }

        for (int image = 0; image < images; image++)
        {
            float* to = result + (nint)image * s.OutputImageLength;
            CropChannelsFirst(plan, wide + (nint)image * plan.WideImageLength, to);
            if (typeof(TEpilogue) == typeof(NoEpilogue)) continue;
            for (int o = 0; o < s.OutChannels; o++)
                epilogue.Apply(new Span<float>(to + (nint)o * s.OutSpatial, s.OutSpatial), o, 0);
        }
    }

    /// <summary>V of a chunk's tiles (group tiles [first, first + tiles)), from the group's padded images.</summary>
    private static void TransformInputs<TSimd, TVector>(in WinogradPlan plan, float* padded, int first, int tiles, float* v)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        for (int t = 0; t < tiles; t++)
        {
            var (image, row, column) = plan.Tile(first + t);
            TransformInput<TSimd, TVector>(plan.InputTile(padded, image, row, column), (nint)plan.PaddedWidth * plan.ChannelStride,
                plan.ChannelStride, v + (nint)t * plan.ChannelStride, (nint)plan.ChunkTiles * plan.ChannelStride);
        }
    }

    /// <summary>
    /// The filter gradient's share of one group of images on one thread: input tiles transformed as in the forward
    /// pass (V), output-gradient tiles by A ∂Y Aᵀ (Z), and ∂U[ξ] += V[ξ]ᵀ · Z[ξ] into the thread's partial
    /// sum (overwritten by its first chunk, <paramref name="started"/> false).
    /// </summary>
    internal static void FilterGradientGroup<TSimd, TVector>(in WinogradPlan plan, float* input, float* gradOutput, int images,
        float* buffer, float* partial, KernelIsa isa, bool innerParallel, ref bool started)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        Conv2dShape s = plan.Shape;
        var buffers = plan.Buffers(buffer);
        float* padded = buffers.Padded, wide = buffers.Wide, v = buffers.V, z = buffers.M;
        for (int image = 0; image < images; image++)
        {
            PadChannelsLast(plan, input + (nint)image * s.InputImageLength, padded + (nint)image * plan.PaddedImageLength);
            // Gradients of the dropped outputs past the edge are zero.
            ChannelsLast(gradOutput + (nint)image * s.OutputImageLength, s.OutChannels, s.OutHeight, s.OutWidth, 0, 0,
                2 * plan.TileRows, plan.WideWidth, plan.OutChannelStride, wide + (nint)image * plan.WideImageLength);
        }
        int groupTiles = images * plan.TilesPerImage;
        for (int first = 0, chunks = DirectConv2d.BlockCount(groupTiles, plan.ChunkTiles); first < groupTiles; chunks--)
        {
            int tiles = DirectConv2d.NextBlock(groupTiles - first, chunks);
            TransformInputs<TSimd, TVector>(plan, padded, first, tiles, v);
            for (int t = 0; t < tiles; t++)
            {
                var (image, row, column) = plan.Tile(first + t);
                TransformGradient<TSimd, TVector>(plan.OutputTile(wide, image, row, column), (nint)plan.WideWidth * plan.OutChannelStride,
                    plan.OutChannelStride, z + (nint)t * plan.OutChannelStride, (nint)plan.ChunkTiles * plan.OutChannelStride);
            }
            for (int point = 0; point < Points; point++)
            {
                // ∂U[ξ] stored [out, in]: ∂U[ξ]ᵀ (out × in) += Z[ξ]ᵀ · V[ξ].
                var product = new GemmProblem(Transpose.Transposed, Transpose.None, s.OutChannels, s.Channels, tiles,
                    z + (nint)point * plan.ChunkTiles * plan.OutChannelStride, plan.OutChannelStride,
                    v + (nint)point * plan.ChunkTiles * plan.ChannelStride, plan.ChannelStride,
                    partial + (nint)point * s.Channels * s.OutChannels, s.Channels, accumulate: started);
                Gemm.MultiplyUnchecked(product, new NoEpilogue(), isa, innerParallel);
            }
            started = true;
            first += tiles;
        }
    }

    /// <summary>
    /// Z = A ∂Y Aᵀ for one tile (the adjoint of <see cref="TransformOutput"/>), a vector of output channels at a time:
    /// ∂Y[y, x] at source + y·rowStride + x·channelStride + o; Z[ξ] at target + ξ·pointStride + o.
    /// </summary>
    private static void TransformGradient<TSimd, TVector>(float* source, nint rowStride, int channelStride, float* target, nint pointStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        for (int o = 0; o < channelStride; o += TSimd.Count)
        {
            float* y = source + o;
            // Columns: A ∂Y (4×2).
            var c0 = GradientRows<TSimd, TVector>(TSimd.Load(y), TSimd.Load(y + rowStride));
            var c1 = GradientRows<TSimd, TVector>(TSimd.Load(y + channelStride), TSimd.Load(y + rowStride + channelStride));
            // Rows: (A ∂Y) Aᵀ (4×4).
            float* z = target + o;
            StoreQuad<TSimd, TVector>(GradientRows<TSimd, TVector>(c0.A, c1.A), z, pointStride);
            StoreQuad<TSimd, TVector>(GradientRows<TSimd, TVector>(c0.B, c1.B), z + 4 * pointStride, pointStride);
            StoreQuad<TSimd, TVector>(GradientRows<TSimd, TVector>(c0.C, c1.C), z + 8 * pointStride, pointStride);
            StoreQuad<TSimd, TVector>(GradientRows<TSimd, TVector>(c0.D, c1.D), z + 12 * pointStride, pointStride);
        }
    }

    /// <summary>A x for one column x = (x0, x1): (x0, x0 + x1, x0 − x1, −x1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Quad<TVector> GradientRows<TSimd, TVector>(TVector x0, TVector x1)
        where TSimd : struct, ISimd<TVector> where TVector : struct =>
        new(x0, TSimd.Add(x0, x1), TSimd.Subtract(x0, x1), TSimd.Subtract(TSimd.Zero, x1));

    /// <summary>
    /// Writes a channels-first image (<paramref name="channels"/> × <paramref name="height"/> × <paramref name="width"/>)
    /// channels-last into a zero-bordered <paramref name="rows"/> × <paramref name="columns"/> grid with the image at
    /// (<paramref name="top"/>, <paramref name="left"/>), <paramref name="stride"/> floats per position: one
    /// whole-image transpose (whole 8×8 blocks, where a row at a time would leave most of a narrow row to scalar
    /// remainders) to the start of the image's place, then each row moved out to the grid's pitch, last row first (a
    /// row's target never overlaps an earlier row's source), then the borders cleared.
    /// </summary>
    private static void ChannelsLast(float* image, int channels, int height, int width, int top, int left,
        int rows, int columns, int stride, float* grid)
    {
        int rowLength = width * stride, gridRow = columns * stride;
        float* interior = grid + ((nint)top * columns + left) * stride;
        GemmPacking.TransposeBlock(image, (nint)height * width, interior, stride, channels, height * width);
        if (rowLength != gridRow)
            for (int y = height - 1; y > 0; y--)
                Buffer.MemoryCopy(interior + (nint)y * rowLength, interior + (nint)y * gridRow, (long)rowLength * sizeof(float), (long)rowLength * sizeof(float));
        new Span<float>(grid, top * gridRow + left * stride).Clear();
        int right = (columns - width - left) * stride;
        for (int y = 0; y < height; y++)
            new Span<float>(interior + (nint)y * gridRow + rowLength, right + left * stride).Clear();
        float* below = interior + (nint)(height - 1) * gridRow + rowLength + right;
        new Span<float>(below, (int)(grid + (nint)rows * gridRow - below)).Clear();
    }

    /// <summary>An input image, padded, on <see cref="WinogradPlan.PaddedImageLength"/> floats.</summary>
    private static void PadChannelsLast(in WinogradPlan plan, float* image, float* padded)
    {
        Conv2dShape s = plan.Shape;
        ChannelsLast(image, s.Channels, s.Height, s.Width, s.PadH, s.PadW, plan.PaddedHeight, plan.PaddedWidth, plan.ChannelStride, padded);
    }

    /// <summary>
    /// Writes a channels-last output image on whole tiles channels-first: rows compacted to the output width (first
    /// row first: targets never pass the rows still to move), then one whole-image transpose.
    /// </summary>
    private static void CropChannelsFirst(in WinogradPlan plan, float* wide, float* output)
    {
        Conv2dShape s = plan.Shape;
        int stride = plan.OutChannelStride, rowLength = s.OutWidth * stride, wideRow = plan.WideWidth * stride;
        if (rowLength != wideRow)
            for (int y = 1; y < s.OutHeight; y++)
                Buffer.MemoryCopy(wide + (nint)y * wideRow, wide + (nint)y * rowLength, (long)rowLength * sizeof(float), (long)rowLength * sizeof(float));
        GemmPacking.TransposeBlock(wide, stride, output, s.OutSpatial, s.OutSpatial, s.OutChannels);
    }

    /// <summary>Four values, so the 1-D transforms return them by value (kept in registers).</summary>
    private readonly struct Quad<TVector>(TVector a, TVector b, TVector c, TVector d) where TVector : struct
    {
        public readonly TVector A = a, B = b, C = c, D = d;
    }

    /// <summary>Bᵀ x for one column x: (x0 − x2, x1 + x2, x2 − x1, x1 − x3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Quad<TVector> InputRows<TSimd, TVector>(TVector x0, TVector x1, TVector x2, TVector x3)
        where TSimd : struct, ISimd<TVector> where TVector : struct =>
        new(TSimd.Subtract(x0, x2), TSimd.Add(x1, x2), TSimd.Subtract(x2, x1), TSimd.Subtract(x1, x3));

    /// <summary>
    /// V = Bᵀ d B for one tile, a vector of channels at a time: d[y, x] at origin + y·rowStride + x·channelStride + c;
    /// V[ξ = 4y + x] at target + ξ·pointStride + c.
    /// </summary>
    private static void TransformInput<TSimd, TVector>(float* origin, nint rowStride, int channelStride, float* target, nint pointStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        nint x1 = channelStride, x2 = 2 * x1, x3 = 3 * x1;
        for (int c = 0; c < channelStride; c += TSimd.Count)
        {
            float* d0 = origin + c, d1 = d0 + rowStride, d2 = d1 + rowStride, d3 = d2 + rowStride;
            // Columns: Bᵀ d.
            var c0 = InputRows<TSimd, TVector>(TSimd.Load(d0), TSimd.Load(d1), TSimd.Load(d2), TSimd.Load(d3));
            var c1 = InputRows<TSimd, TVector>(TSimd.Load(d0 + x1), TSimd.Load(d1 + x1), TSimd.Load(d2 + x1), TSimd.Load(d3 + x1));
            var c2 = InputRows<TSimd, TVector>(TSimd.Load(d0 + x2), TSimd.Load(d1 + x2), TSimd.Load(d2 + x2), TSimd.Load(d3 + x2));
            var c3 = InputRows<TSimd, TVector>(TSimd.Load(d0 + x3), TSimd.Load(d1 + x3), TSimd.Load(d2 + x3), TSimd.Load(d3 + x3));
            // Rows: (Bᵀ d) B.
            float* v = target + c;
            StoreQuad<TSimd, TVector>(InputRows<TSimd, TVector>(c0.A, c1.A, c2.A, c3.A), v, pointStride);
            StoreQuad<TSimd, TVector>(InputRows<TSimd, TVector>(c0.B, c1.B, c2.B, c3.B), v + 4 * pointStride, pointStride);
            StoreQuad<TSimd, TVector>(InputRows<TSimd, TVector>(c0.C, c1.C, c2.C, c3.C), v + 8 * pointStride, pointStride);
            StoreQuad<TSimd, TVector>(InputRows<TSimd, TVector>(c0.D, c1.D, c2.D, c3.D), v + 12 * pointStride, pointStride);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreQuad<TSimd, TVector>(in Quad<TVector> values, float* target, nint stride)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        TSimd.Store(values.A, target);
        TSimd.Store(values.B, target + stride);
        TSimd.Store(values.C, target + 2 * stride);
        TSimd.Store(values.D, target + 3 * stride);
    }

    /// <summary>Aᵀ x for one column x: (x0 + x1 + x2, x1 − x2 − x3), as the first two of a quad.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Quad<TVector> OutputRows<TSimd, TVector>(TVector x0, TVector x1, TVector x2, TVector x3)
        where TSimd : struct, ISimd<TVector> where TVector : struct =>
        new(TSimd.Add(TSimd.Add(x0, x1), x2), TSimd.Subtract(TSimd.Subtract(x1, x2), x3), default, default);

    /// <summary>
    /// Y = Aᵀ M A for one tile, a vector of output channels at a time: M[ξ] at source + ξ·pointStride + o;
    /// Y[y, x] at target + y·rowStride + x·channelStride + o.
    /// </summary>
    private static void TransformOutput<TSimd, TVector>(float* source, nint pointStride, int channelStride, float* target, nint rowStride)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        nint p4 = 4 * pointStride, p8 = 8 * pointStride, p12 = 12 * pointStride;
        for (int o = 0; o < channelStride; o += TSimd.Count)
        {
            float* m = source + o;
            // Columns: Aᵀ M (2×4).
            var c0 = OutputRows<TSimd, TVector>(TSimd.Load(m), TSimd.Load(m + p4), TSimd.Load(m + p8), TSimd.Load(m + p12));
            m += pointStride;
            var c1 = OutputRows<TSimd, TVector>(TSimd.Load(m), TSimd.Load(m + p4), TSimd.Load(m + p8), TSimd.Load(m + p12));
            m += pointStride;
            var c2 = OutputRows<TSimd, TVector>(TSimd.Load(m), TSimd.Load(m + p4), TSimd.Load(m + p8), TSimd.Load(m + p12));
            m += pointStride;
            var c3 = OutputRows<TSimd, TVector>(TSimd.Load(m), TSimd.Load(m + p4), TSimd.Load(m + p8), TSimd.Load(m + p12));
            // Rows: (Aᵀ M) A (2×2).
            var top = OutputRows<TSimd, TVector>(c0.A, c1.A, c2.A, c3.A);
            var bottom = OutputRows<TSimd, TVector>(c0.B, c1.B, c2.B, c3.B);
            float* y = target + o;
            TSimd.Store(top.A, y);
            TSimd.Store(top.B, y + channelStride);
            TSimd.Store(bottom.A, y + rowStride);
            TSimd.Store(bottom.B, y + rowStride + channelStride);
        }
    }
}

/// <summary>
/// The sizes of a Winograd convolution of <see cref="Shape"/> (the convolution a pass computes) and where its buffers
/// lie in the workspace.
/// </summary>
internal readonly unsafe struct WinogradPlan
{
    private const int Points = WinogradConv2d.Points;

    /// <param name="shape">The convolution the pass computes (for the input gradient, the output gradient's).</param>
    /// <param name="pass">The pass.</param>
    public WinogradPlan(in Conv2dShape shape, ConvolutionPass pass)
    {
        Shape = shape;
        FilterGradient = pass == ConvolutionPass.BackwardFilter;
        Flipped = pass == ConvolutionPass.BackwardInput;
        TileRows = (shape.OutHeight + 1) / 2;
        TileColumns = (shape.OutWidth + 1) / 2;
        // Tiles read 4×4 from (2·row, 2·column) of the padded image; rows and columns past the input are zeros.
        PaddedHeight = 2 * TileRows + 2;
        PaddedWidth = 2 * TileColumns + 2;
        ChannelStride = RoundUp(shape.Channels);
        OutChannelStride = RoundUp(shape.OutChannels);
        int target = Math.Clamp(WinogradConv2d.ChunkFloats / (Points * (ChannelStride + OutChannelStride)), 1, WinogradConv2d.MaxChunkTiles);
        if (TilesPerImage >= target)
        {
            // Large images: each in the fewest chunks of at most target tiles, as even as the chunk loop makes them.
            ImagesPerGroup = 1;
            int chunks = DirectConv2d.BlockCount(TilesPerImage, target);
            ChunkTiles = (TilesPerImage + chunks - 1) / chunks;
        }
        else
        {
            ImagesPerGroup = target / TilesPerImage;
            ChunkTiles = ImagesPerGroup * TilesPerImage;
        }
    }

    private static int RoundUp(int channels) =>
        (channels + WinogradConv2d.ChannelAlignment - 1) / WinogradConv2d.ChannelAlignment * WinogradConv2d.ChannelAlignment;

    public readonly Conv2dShape Shape;
    /// <summary>Whether each thread also holds a partial sum of ∂U (the filter-gradient pass).</summary>
    public readonly bool FilterGradient;
    /// <summary>Whether the filters are the layer's rotated and transposed ones (the input-gradient pass).</summary>
    public readonly bool Flipped;
    public readonly int TileRows, TileColumns, PaddedHeight, PaddedWidth, ChannelStride, OutChannelStride;
    /// <summary>Images padded and transformed together (tiles of several small images fill one chunk).</summary>
    public readonly int ImagesPerGroup;
    /// <summary>The most tiles in a chunk (whose V and M fit the chunk budget).</summary>
    public readonly int ChunkTiles;

    public int TilesPerImage => TileRows * TileColumns;
    public int WideWidth => 2 * TileColumns;
    /// <summary>A padded channels-last input image.</summary>
    public int PaddedImageLength => checked(PaddedHeight * PaddedWidth * ChannelStride);
    /// <summary>A channels-last output image on whole tiles (2·TileRows × 2·TileColumns).</summary>
    public int WideImageLength => checked(2 * TileRows * WideWidth * OutChannelStride);

    private long TransformedLength => (long)Points * Shape.Channels * Shape.OutChannels;
    private long PackedLength => Gemm.PackedLength(ChunkTiles, Shape.OutChannels, Shape.Channels, operandA: false);

    /// <summary>The transformed filters and their packed copies, or for the filter gradient the summed ∂U.</summary>
    public int SharedLength => checked((int)(TransformedLength + (FilterGradient ? 0 : Points * PackedLength)));

    public int PerThreadLength => checked((int)(ChunkLength + (FilterGradient ? TransformedLength : 0)));

    /// <summary>Floats of a thread's <see cref="Buffers"/>.</summary>
    private long ChunkLength => (long)ImagesPerGroup * (PaddedImageLength + WideImageLength)
        + (long)Points * ChunkTiles * (ChannelStride + OutChannelStride);

    /// <summary>
    /// A thread's buffers, from the start of its share: padded input images, wide output (gradient) images, and one
    /// chunk's V and M (or Z).
    /// </summary>
    public ThreadBuffers Buffers(float* buffer)
    {
        float* wide = buffer + (nint)ImagesPerGroup * PaddedImageLength;
        float* v = wide + (nint)ImagesPerGroup * WideImageLength;
        return new ThreadBuffers(buffer, wide, v, v + (nint)Points * ChunkTiles * ChannelStride);
    }

    public readonly struct ThreadBuffers(float* padded, float* wide, float* v, float* m)
    {
        public readonly float* Padded = padded, Wide = wide, V = v, M = m;
    }

    /// <summary>The start of part <paramref name="part"/>'s share of the workspace.</summary>
    public float* ThreadBuffer(float* workspace, int part) => workspace + SharedLength + (nint)part * PerThreadLength;

    /// <summary>Part <paramref name="part"/>'s partial sum of ∂U (filter gradient).</summary>
    public float* Partial(float* workspace, int part) => ThreadBuffer(workspace, part) + ChunkLength;

    /// <summary>The top-left corner of a tile's 4×4 input in a group's padded images.</summary>
    public float* InputTile(float* padded, int image, int row, int column) =>
        padded + (nint)image * PaddedImageLength + ((nint)(2 * row) * PaddedWidth + 2 * column) * ChannelStride;

    /// <summary>The top-left corner of a tile's 2×2 outputs in a group's wide images.</summary>
    public float* OutputTile(float* wide, int image, int row, int column) =>
        wide + (nint)image * WideImageLength + ((nint)(2 * row) * WideWidth + 2 * column) * OutChannelStride;

    public float* PackedFilters(float* shared, int point) => shared + TransformedLength + point * PackedLength;

    /// <summary>Tile <paramref name="index"/> of a group: its image and tile row and column.</summary>
    public (int Image, int Row, int Column) Tile(int index)
    {
        int image = index / TilesPerImage, local = index - image * TilesPerImage;
        int row = local / TileColumns;
        return (image, row, local - row * TileColumns);
    }

    /// <summary>
    /// M[ξ] (tiles × out, row stride OutChannelStride) = V[ξ] (tiles × in, row stride ChannelStride) · U[ξ] (in × out,
    /// stored in the layer's [out, in] order: transposed in the forward pass, as is for the input gradient).
    /// </summary>
    public GemmProblem Product(int point, int tiles, float* v, float* shared, float* m) =>
        new(Transpose.None, Flipped ? Transpose.None : Transpose.Transposed, tiles, Shape.OutChannels, Shape.Channels,
            v == null ? null : v + (nint)point * ChunkTiles * ChannelStride, ChannelStride,
            shared + point * (nint)Shape.Channels * Shape.OutChannels, Flipped ? Shape.OutChannels : Shape.Channels,
            m == null ? null : m + (nint)point * ChunkTiles * OutChannelStride, OutChannelStride, accumulate: false);
}

/// <summary>One Winograd pass over a batch, split into fixed contiguous ranges of images.</summary>
internal sealed unsafe class WinogradJob<TEpilogue> : ParallelJob where TEpilogue : struct, IEpilogue
{
    [ThreadStatic] private static WinogradJob<TEpilogue>? t_instance;

    private WinogradPlan _plan;
    private int _batch;
    private float* _source, _gradOutput, _result, _workspace;
    private TEpilogue _epilogue;
    private KernelIsa _isa;

    public static WinogradJob<TEpilogue> ForCurrentThread => t_instance ??= new WinogradJob<TEpilogue>();

    /// <summary><paramref name="gradOutput"/> is read by the filter gradient only, <paramref name="result"/> written by the others.</summary>
    public void Set(in WinogradPlan plan, int batch, float* source, float* gradOutput, float* result,
        float* workspace, in TEpilogue epilogue, KernelIsa isa)
    {
        _plan = plan;
        _batch = batch;
        _source = source;
        _gradOutput = gradOutput;
        _result = result;
        _workspace = workspace;
        _epilogue = epilogue;
        _isa = isa;
    }

    public void Clear() => _epilogue = default;

    public override void Execute(int part, int partCount)
    {
        switch (_isa)
        {
            case KernelIsa.Avx512: Execute<Simd512, Vector512<float>>(part, partCount); break;
            case KernelIsa.Avx2: Execute<Simd256, Vector256<float>>(part, partCount); break;
            case KernelIsa.Vector: Execute<SimdPortable, System.Numerics.Vector<float>>(part, partCount); break;
            default: Execute<SimdScalar, float>(part, partCount); break;
        }
    }

    private void Execute<TSimd, TVector>(int part, int partCount) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        int first = (int)((long)_batch * part / partCount), end = (int)((long)_batch * (part + 1) / partCount);
        Conv2dShape s = _plan.Shape;
        float* buffer = _plan.ThreadBuffer(_workspace, part);
        TEpilogue epilogue = _epilogue;
        bool started = false;
        // A single part (one image, or a workspace for one thread) splits its products across the pool instead.
        bool innerParallel = partCount == 1;
        for (int n = first; n < end; n += _plan.ImagesPerGroup)
        {
            int images = Math.Min(_plan.ImagesPerGroup, end - n);
            float* source = _source + (nint)n * s.InputImageLength;
            if (_plan.FilterGradient)
                WinogradConv2d.FilterGradientGroup<TSimd, TVector>(_plan, source, _gradOutput + (nint)n * s.OutputImageLength, images,
                    buffer, _plan.Partial(_workspace, part), _isa, innerParallel, ref started);
            else
                WinogradConv2d.Group<TSimd, TVector, TEpilogue>(_plan, source, _result + (nint)n * s.OutputImageLength, images,
                    _workspace, buffer, _isa, innerParallel, ref epilogue);
        }
    }
}
