using System;
using System.Numerics.Tensors;

namespace Graph.Runtime.Kernels;

/// <summary>
/// 2-D convolution (cross-correlation, as in PyTorch) over NCHW tensors, through im2col and <see cref="Gemm"/> or,
/// for few channels, directly (<see cref="DirectConv2d"/>), or for 3×3 layers with many channels by Winograd's
/// transform (<see cref="WinogradConv2d"/>); <see cref="AlgorithmFor"/> picks by shape.
/// Batches are split across <see cref="WorkerPool"/> threads image by image, each thread with its own slice of the
/// caller's workspace; with im2col or Winograd, a single image instead runs its GEMMs across the threads. The kernels never allocate.
/// </summary>
public static unsafe class Conv2d
{
    // Thread-static like the instruction-set cap, so a test forcing a path cannot disturb tests beside it.
    [ThreadStatic] private static Conv2dAlgorithm? t_forced;

    /// <summary>
    /// Forces the algorithm for calls (<see cref="WorkspaceLength"/> included) from the current thread, where the shape
    /// supports it (tests and benchmarks use it to exercise both paths); <c>null</c> restores <see cref="AlgorithmFor"/>'s choice.
    /// </summary>
    public static Conv2dAlgorithm? ForcedAlgorithmOnThisThread
    {
        get => t_forced;
        set => t_forced = value;
    }

    /// <summary>
    /// The algorithm a pass with this shape uses. Winograd (3×3, stride 1, padding ≤ 2) when both sides have at least
    /// <see cref="WinogradMinChannels"/> channels: measured (Zen 5, one thread, batch 64) 1.5-2.2× faster than the
    /// better of direct and im2col on 32→32 and 64→128 layers of 14² and 16→32 of 28², on par at 32→64 on 7², slower
    /// at 16→16 on 14². Direct needs stride 1 and padding below the kernel size; pointwise
    /// convolutions keep im2col (it is free there). Otherwise, measured on the LeNet-5 and lenet-seed layers and 3×3
    /// layers of 3 to 128 channels on 7² to 56² images (Zen 5, one thread, batch 64), the direct path wins (1.2-4×)
    /// except for:
    /// layers with more than <see cref="DirectMaxChannels"/> channels on either side (not measured), the forward pass and
    /// the input gradient with fewer than <see cref="DirectMinTaps"/> taps per output (Channels·KH·KW,
    /// resp. OutChannels·KH·KW; the direct path's wide store and crop then outweigh the small product, e.g. 1→64 3×3),
    /// and the filter gradient with more than <see cref="DirectMaxFilterWeights"/> weights (its lane-wise partials,
    /// 16 floats per weight per thread, no longer stay in L2, e.g. 64→128 3×3).
    /// </summary>
    public static Conv2dAlgorithm AlgorithmFor(in Conv2dShape s, ConvolutionPass pass)
    {
        bool supported = DirectConv2d.Supports(s);
        bool winograd = WinogradConv2d.Supports(s);
        if (t_forced is { } forced)
            return forced switch
            {
                Conv2dAlgorithm.Direct when supported => forced,
                Conv2dAlgorithm.Winograd when winograd => forced,
                _ => Conv2dAlgorithm.Im2ColGemm,
            };
        if (winograd && s.Channels >= WinogradMinChannels && s.OutChannels >= WinogradMinChannels) return Conv2dAlgorithm.Winograd;
        // Beyond the measured range (more than DirectMaxChannels on either side) the GEMM path, tuned for large
        // products, is the safer default.
        if (!supported || s.IsPointwise || s.Channels > DirectMaxChannels || s.OutChannels > DirectMaxChannels)
            return Conv2dAlgorithm.Im2ColGemm;
        int kernel = s.KernelH * s.KernelW;
        bool direct = pass switch
        {
            ConvolutionPass.Forward => s.Channels * kernel >= DirectMinTaps,
            ConvolutionPass.BackwardInput => s.OutChannels * kernel >= DirectMinTaps,
            _ => s.WeightsLength <= DirectMaxFilterWeights,
        };
        return direct ? Conv2dAlgorithm.Direct : Conv2dAlgorithm.Im2ColGemm;
    }

    /// <summary>See <see cref="AlgorithmFor"/>.</summary>
    public const int WinogradMinChannels = 32;

    /// <summary>See <see cref="AlgorithmFor"/>.</summary>
    public const int DirectMinTaps = 16;

    /// <summary>See <see cref="AlgorithmFor"/>.</summary>
    public const int DirectMaxFilterWeights = 16384;

    /// <summary>The most input or output channels the direct path was measured to win with (see <see cref="AlgorithmFor"/>).</summary>
    public const int DirectMaxChannels = 128;

    /// <summary>
    /// Floats of scratch that <see cref="Forward"/>, <see cref="BackwardInput"/> and <see cref="BackwardFilter"/>
    /// need to use every <see cref="WorkerPool"/> thread on a batch of <paramref name="batch"/> images with the shape's
    /// <see cref="AlgorithmFor"/>. im2col: per thread, one image's patch matrix (PatchLength × OutSpatial, omitted for
    /// pointwise convolutions) and one partial filter gradient; direct: the packed weights, then per thread a padded
    /// image, its wide result and the filter-gradient partials. A smaller workspace still works, with fewer threads,
    /// as long as it holds one thread's share.
    /// </summary>
    public static int WorkspaceLength(in Conv2dShape shape, int batch)
    {
        shape.Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        int threads = Math.Max(1, Math.Min(WorkerPool.ThreadCount, batch));
        // Passes may use different algorithms; the workspace serves the largest need.
        long length = 0;
        foreach (var pass in Enum.GetValues<ConvolutionPass>())
            length = Math.Max(length, AlgorithmFor(shape, pass) switch
            {
                Conv2dAlgorithm.Direct => DirectConv2d.SharedWorkspace(shape) + (long)threads * DirectConv2d.PerThreadWorkspace(shape, pass),
                Conv2dAlgorithm.Winograd => WinogradConv2d.SharedWorkspace(shape, pass) + (long)threads * WinogradConv2d.PerThreadWorkspace(shape, pass),
                _ => (long)threads * PerThreadWorkspace(shape),
            });
        return checked((int)length);
    }

    /// <summary>
    /// <c>output[n, o] = Σ_c weights[o, c] ⋆ input[n, c]</c>, then <paramref name="epilogue"/> per image with rows =
    /// output channel and columns = spatial index (oy·OutWidth + ox); e.g. <see cref="BiasRowsEpilogue"/> adds a bias.
    /// </summary>
    /// <param name="s">The convolution's geometry.</param>
    /// <param name="batch">Images in the batch (N).</param>
    /// <param name="input">[N, Channels, Height, Width].</param>
    /// <param name="weights">[OutChannels, Channels, KernelH, KernelW].</param>
    /// <param name="output">[N, OutChannels, OutHeight, OutWidth], overwritten.</param>
    /// <param name="workspace">Scratch of at least one thread's share of <see cref="WorkspaceLength"/>.</param>
    /// <param name="epilogue">Applied to each finished run of output values.</param>
    public static void Forward<TEpilogue>(in Conv2dShape s, int batch, ReadOnlySpan<float> input, ReadOnlySpan<float> weights,
        Span<float> output, Span<float> workspace, in TEpilogue epilogue) where TEpilogue : struct, IEpilogue
    {
        Check(s, batch, input.Length, s.InputImageLength, nameof(input));
        Check(s, batch, output.Length, s.OutputImageLength, nameof(output));
        fixed (float* inputPointer = input)
        fixed (float* weightsPointer = weights)
        fixed (float* outputPointer = output)
        fixed (float* workspacePointer = workspace)
        {
            if (UseWinograd(s, ConvolutionPass.Forward, weights.Length, workspace.Length))
            {
                WinogradConv2d.Forward(s, batch, inputPointer, weightsPointer, outputPointer, workspacePointer, workspace.Length, epilogue);
                return;
            }
            if (UseDirect(s, ConvolutionPass.Forward, weights.Length, workspace.Length))
            {
                DirectConv2d.Forward(s, batch, inputPointer, weightsPointer, outputPointer, workspacePointer, workspace.Length, epilogue);
                return;
            }
            var job = new ConvolutionJob<TEpilogue>.Arguments(ConvolutionPass.Forward, s, inputPointer, weightsPointer,
                outputPointer, workspacePointer, accumulate: false);
            Run(job, batch, workspace.Length, weights.Length, epilogue);
        }
    }

    /// <summary><see cref="Forward{TEpilogue}"/> without an epilogue.</summary>
    public static void Forward(in Conv2dShape s, int batch, ReadOnlySpan<float> input, ReadOnlySpan<float> weights,
        Span<float> output, Span<float> workspace) =>
        Forward(s, batch, input, weights, output, workspace, new NoEpilogue());

    /// <summary>Gradient with respect to the input, overwriting <paramref name="gradInput"/> [N, Channels, Height, Width].</summary>
    /// <param name="s">The convolution's geometry.</param>
    /// <param name="batch">Images in the batch (N).</param>
    /// <param name="gradOutput">[N, OutChannels, OutHeight, OutWidth].</param>
    /// <param name="weights">[OutChannels, Channels, KernelH, KernelW].</param>
    /// <param name="gradInput">[N, Channels, Height, Width], overwritten.</param>
    /// <param name="workspace">Scratch of at least one thread's share of <see cref="WorkspaceLength"/>.</param>
    public static void BackwardInput(in Conv2dShape s, int batch, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> weights,
        Span<float> gradInput, Span<float> workspace)
    {
        Check(s, batch, gradOutput.Length, s.OutputImageLength, nameof(gradOutput));
        Check(s, batch, gradInput.Length, s.InputImageLength, nameof(gradInput));
        fixed (float* gradOutputPointer = gradOutput)
        fixed (float* weightsPointer = weights)
        fixed (float* gradInputPointer = gradInput)
        fixed (float* workspacePointer = workspace)
        {
            if (UseWinograd(s, ConvolutionPass.BackwardInput, weights.Length, workspace.Length))
            {
                WinogradConv2d.BackwardInput(s, batch, gradOutputPointer, weightsPointer, gradInputPointer, workspacePointer, workspace.Length);
                return;
            }
            if (UseDirect(s, ConvolutionPass.BackwardInput, weights.Length, workspace.Length))
            {
                DirectConv2d.BackwardInput(s, batch, gradOutputPointer, weightsPointer, gradInputPointer, workspacePointer, workspace.Length);
                return;
            }
            var job = new ConvolutionJob<NoEpilogue>.Arguments(ConvolutionPass.BackwardInput, s, gradInputPointer,
                weightsPointer, gradOutputPointer, workspacePointer, accumulate: false);
            Run(job, batch, workspace.Length, weights.Length, new NoEpilogue());
        }
    }

    /// <summary>
    /// Gradient with respect to the weights, summed over the batch, written to (or, when
    /// <paramref name="accumulate"/>, added to) <paramref name="gradWeights"/>. Each thread sums its contiguous
    /// range of images, then the per-thread partials are added in thread order: bit-identical for a given thread
    /// count and workspace size.
    /// </summary>
    /// <param name="s">The convolution's geometry.</param>
    /// <param name="batch">Images in the batch (N).</param>
    /// <param name="input">[N, Channels, Height, Width].</param>
    /// <param name="gradOutput">[N, OutChannels, OutHeight, OutWidth].</param>
    /// <param name="gradWeights">[OutChannels, Channels, KernelH, KernelW].</param>
    /// <param name="workspace">Scratch of at least one thread's share of <see cref="WorkspaceLength"/>.</param>
    /// <param name="accumulate">Add to <paramref name="gradWeights"/> instead of overwriting it.</param>
    public static void BackwardFilter(in Conv2dShape s, int batch, ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput,
        Span<float> gradWeights, Span<float> workspace, bool accumulate)
    {
        Check(s, batch, input.Length, s.InputImageLength, nameof(input));
        Check(s, batch, gradOutput.Length, s.OutputImageLength, nameof(gradOutput));
        fixed (float* inputPointer = input)
        fixed (float* gradOutputPointer = gradOutput)
        fixed (float* gradWeightsPointer = gradWeights)
        fixed (float* workspacePointer = workspace)
        {
            if (batch == 0)
            {
                if (!accumulate) gradWeights[..s.WeightsLength].Clear();
                return;
            }
            if (UseWinograd(s, ConvolutionPass.BackwardFilter, gradWeights.Length, workspace.Length))
            {
                WinogradConv2d.BackwardFilter(s, batch, inputPointer, gradOutputPointer, gradWeightsPointer, workspacePointer,
                    workspace.Length, accumulate);
                return;
            }
            if (UseDirect(s, ConvolutionPass.BackwardFilter, gradWeights.Length, workspace.Length))
            {
                DirectConv2d.BackwardFilter(s, batch, inputPointer, gradOutputPointer, gradWeightsPointer, workspacePointer,
                    workspace.Length, accumulate);
                return;
            }
            var job = new ConvolutionJob<NoEpilogue>.Arguments(ConvolutionPass.BackwardFilter, s, inputPointer,
                gradWeightsPointer, gradOutputPointer, workspacePointer, accumulate);
            int parts = Run(job, batch, workspace.Length, gradWeights.Length, new NoEpilogue());
            // Fixed-order reduction of the other threads' partial sums into part 0's result.
            var total = gradWeights[..s.WeightsLength];
            int perThread = PerThreadWorkspace(s);
            for (int part = 1; part < parts; part++)
                TensorPrimitives.Add(total, workspace.Slice(part * perThread + ColumnsLength(s), s.WeightsLength), total);
        }
    }

    /// <summary>Whether the direct path runs; validates the weights and workspace lengths for it.</summary>
    private static bool UseDirect(in Conv2dShape s, ConvolutionPass pass, int weightsLength, int workspaceLength) =>
        Use(Conv2dAlgorithm.Direct, s, pass, weightsLength, workspaceLength);

    /// <summary>Whether the Winograd path runs; validates the weights and workspace lengths for it.</summary>
    private static bool UseWinograd(in Conv2dShape s, ConvolutionPass pass, int weightsLength, int workspaceLength) =>
        Use(Conv2dAlgorithm.Winograd, s, pass, weightsLength, workspaceLength);

    private static bool Use(Conv2dAlgorithm algorithm, in Conv2dShape s, ConvolutionPass pass, int weightsLength, int workspaceLength)
    {
        if (AlgorithmFor(s, pass) != algorithm) return false;
        if (weightsLength < s.WeightsLength)
            throw new ArgumentException($"Needs {s.WeightsLength} weights for {s}, got {weightsLength}.", "weights");
        // One thread's share, sized only once the shape is known to take this path (the sizes assume it does).
        int needed = algorithm == Conv2dAlgorithm.Winograd
            ? WinogradConv2d.SharedWorkspace(s, pass) + WinogradConv2d.PerThreadWorkspace(s, pass)
            : DirectConv2d.SharedWorkspace(s) + DirectConv2d.PerThreadWorkspace(s, pass);
        if (workspaceLength < needed)
            throw new ArgumentException($"Needs a workspace of at least {needed} floats for {s}, got {workspaceLength}.", "workspace");
        return true;
    }

    /// <summary>Validates the shared arguments, splits the batch and runs the job; returns the number of parts.</summary>
    private static int Run<TEpilogue>(in ConvolutionJob<TEpilogue>.Arguments arguments, int batch, int workspaceLength,
        int weightsLength, in TEpilogue epilogue) where TEpilogue : struct, IEpilogue
    {
        Conv2dShape s = arguments.Shape;
        if (weightsLength < s.WeightsLength)
            throw new ArgumentException($"Needs {s.WeightsLength} weights for {s}, got {weightsLength}.", "weights");
        int perThread = PerThreadWorkspace(s);
        if (workspaceLength < perThread)
            throw new ArgumentException($"Needs a workspace of at least {perThread} floats for {s}, got {workspaceLength}.", "workspace");
        if (batch == 0) return 0;
        // Split over images when there are enough of them; a single image parallelizes inside its GEMM instead.
        int parts = Math.Min(Math.Min(WorkerPool.ThreadCount, batch), workspaceLength / perThread);
        var job = ConvolutionJob<TEpilogue>.ForCurrentThread;
        job.Set(arguments, epilogue, KernelIsaSelector.Current, batch, innerParallel: parts == 1);
        try { WorkerPool.Run(job, parts); }
        finally { job.Clear(); }
        return parts;
    }

    private static void Check(in Conv2dShape s, int batch, int length, int imageLength, string name)
    {
        s.Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        if (length < (long)batch * imageLength)
            throw new ArgumentException($"Needs {(long)batch * imageLength} floats for {batch} images of {s}, got {length}.", name);
    }

    internal static int ColumnsLength(in Conv2dShape s) =>
        s.IsPointwise ? 0 : checked(s.PatchLength * s.OutSpatial + Im2Col.ReadSlack(s));

    /// <summary>
    /// Per thread: the patch matrix; then either a partial filter gradient (<see cref="BackwardFilter"/>) or one
    /// image's transposed output (<see cref="Forward"/> when <see cref="ForwardTransposed"/>); then the weights
    /// packed for the GEMM (forward and input gradient), shared by the thread's images.
    /// </summary>
    internal static int PerThreadWorkspace(in Conv2dShape s) =>
        checked((int)(ColumnsLength(s) + SecondRegionLength(s) + PackedWeightsLength(s)));

    internal static int SecondRegionLength(in Conv2dShape s) => Math.Max(s.WeightsLength, s.IsPointwise ? 0 : s.OutputImageLength);

    /// <summary>The largest packed weights operand of the forward (either orientation) and input-gradient products.</summary>
    private static long PackedWeightsLength(in Conv2dShape s) => Math.Max(
        Math.Max(Gemm.PackedLength(s.OutChannels, s.OutSpatial, s.PatchLength, operandA: true),
            Gemm.PackedLength(s.OutSpatial, s.OutChannels, s.PatchLength, operandA: false)),
        Gemm.PackedLength(s.PatchLength, s.OutSpatial, s.OutChannels, operandA: true));

    /// <summary>
    /// Whether the forward GEMM runs as outputᵀ = columnsᵀ·weightsᵀ: when the multiply-adds its smaller tile grid
    /// saves (padded area difference × PatchLength, 32 per cycle) outweigh transposing the output back (about half a
    /// cycle per value), e.g. 196 output positions against 128 channels over 576 values (a 12×32 tile pads 128×196 to
    /// 132×224, 196×128 only to 204×128), but not a 9-value patch, whose products cost less than the transpose.
    /// </summary>
    internal static bool ForwardTransposed(in Conv2dShape s, KernelIsa isa)
    {
        if (s.IsPointwise) return false;
        long saved = Gemm.PaddedTileArea(s.OutChannels, s.OutSpatial, isa) - Gemm.PaddedTileArea(s.OutSpatial, s.OutChannels, isa);
        return saved > 0 && saved * s.PatchLength >= 16L * s.OutputImageLength;
    }
}

/// <summary>The three computations of a convolution layer.</summary>
public enum ConvolutionPass
{
    /// <summary><see cref="Conv2d.Forward"/>.</summary>
    Forward,
    /// <summary><see cref="Conv2d.BackwardInput"/>.</summary>
    BackwardInput,
    /// <summary><see cref="Conv2d.BackwardFilter"/>.</summary>
    BackwardFilter,
}

/// <summary>One convolution pass over a batch, split into fixed contiguous ranges of images.</summary>
internal sealed unsafe class ConvolutionJob<TEpilogue> : ParallelJob where TEpilogue : struct, IEpilogue
{
    /// <summary>
    /// Pointers for a pass: <see cref="Image"/> is the input (forward, filter gradient) or the input gradient
    /// (input gradient); <see cref="Filters"/> the weights or the weight gradient; <see cref="Result"/> the output
    /// or the output gradient.
    /// </summary>
    internal readonly struct Arguments(ConvolutionPass pass, Conv2dShape shape, float* image, float* filters,
        float* result, float* workspace, bool accumulate)
    {
        public readonly ConvolutionPass Pass = pass;
        public readonly Conv2dShape Shape = shape;
        public readonly float* Image = image, Filters = filters, Result = result, Workspace = workspace;
        public readonly bool Accumulate = accumulate;
    }

    [ThreadStatic] private static ConvolutionJob<TEpilogue>? t_instance;

    private Arguments _arguments;
    private TEpilogue _epilogue;
    private KernelIsa _isa;
    private int _batch;
    private bool _innerParallel;

    public static ConvolutionJob<TEpilogue> ForCurrentThread => t_instance ??= new ConvolutionJob<TEpilogue>();

    public void Set(in Arguments arguments, in TEpilogue epilogue, KernelIsa isa, int batch, bool innerParallel)
    {
        _arguments = arguments;
        _epilogue = epilogue;
        _isa = isa;
        _batch = batch;
        _innerParallel = innerParallel;
    }

    public void Clear() => _epilogue = default;

    public override void Execute(int part, int partCount)
    {
        int first = (int)((long)_batch * part / partCount), end = (int)((long)_batch * (part + 1) / partCount);
        Conv2dShape s = _arguments.Shape;
        float* workspace = _arguments.Workspace + (nint)part * Conv2d.PerThreadWorkspace(s);
        float* packedWeights = null;
        if (end - first >= 2 && _arguments.Pass != ConvolutionPass.BackwardFilter)
        {
            // Every image's product has the same weights operand: pack it once for this part's images.
            packedWeights = workspace + Conv2d.ColumnsLength(s) + Conv2d.SecondRegionLength(s);
            bool transposed = _arguments.Pass == ConvolutionPass.Forward && Conv2d.ForwardTransposed(s, _isa);
            GemmProblem problem = _arguments.Pass == ConvolutionPass.Forward ? ForwardProblem(s, null, null, transposed) : BackwardInputProblem(s, null, null);
            Gemm.Prepack(problem, _isa, operandA: !transposed, packedWeights);
        }
        for (int n = first; n < end; n++)
        {
            switch (_arguments.Pass)
            {
                case ConvolutionPass.Forward: ForwardImage(s, n, workspace, packedWeights); break;
                case ConvolutionPass.BackwardInput: BackwardInputImage(s, n, workspace, packedWeights); break;
                default: BackwardFilterImage(s, n, workspace, part, first: n == first); break;
            }
        }
    }

    /// <summary>
    /// The forward product of one image: output (O × P) = weights (O × CKK) · columns (CKK × P), or transposed,
    /// outputᵀ (P × O) = columnsᵀ (P × CKK) · weightsᵀ (CKK × O).
    /// </summary>
    private GemmProblem ForwardProblem(in Conv2dShape s, float* columns, float* target, bool transposed) => transposed
        ? new GemmProblem(Transpose.Transposed, Transpose.Transposed, s.OutSpatial, s.OutChannels, s.PatchLength,
            columns, s.OutSpatial, _arguments.Filters, s.PatchLength, target, s.OutChannels, accumulate: false)
        : new GemmProblem(Transpose.None, Transpose.None, s.OutChannels, s.OutSpatial, s.PatchLength,
            _arguments.Filters, s.PatchLength, columns, s.OutSpatial, target, s.OutSpatial, accumulate: false);

    /// <summary>The input-gradient product of one image: columns (CKK × P) = weightsᵀ (CKK × O) · gradOutput[n] (O × P).</summary>
    private GemmProblem BackwardInputProblem(in Conv2dShape s, float* gradOutput, float* target) =>
        new(Transpose.Transposed, Transpose.None, s.PatchLength, s.OutSpatial, s.OutChannels,
            _arguments.Filters, s.PatchLength, gradOutput, s.OutSpatial, target, s.OutSpatial, accumulate: false);

    private void ForwardImage(in Conv2dShape s, int n, float* workspace, float* packedWeights)
    {
        float* image = _arguments.Image + (nint)n * s.InputImageLength;
        float* columns = workspace;
        if (s.IsPointwise) columns = image;
        else Im2Col.Unfold(s, image, columns, _isa);
        float* output = _arguments.Result + (nint)n * s.OutputImageLength;
        if (Conv2d.ForwardTransposed(s, _isa))
        {
            // outputᵀ into the scratch after the columns, transposed back and finished channel by channel: the same
            // sums in the same order, on a better-filled tile grid.
            float* transposed = workspace + Conv2d.ColumnsLength(s);
            var transposedProblem = ForwardProblem(s, columns, transposed, transposed: true) with { PackedB = packedWeights };
            Gemm.MultiplyUnchecked(transposedProblem, new NoEpilogue(), _isa, _innerParallel);
            GemmPacking.TransposeBlock(transposed, s.OutChannels, output, s.OutSpatial, s.OutSpatial, s.OutChannels);
            if (typeof(TEpilogue) == typeof(NoEpilogue)) return;
            TEpilogue finish = _epilogue;
            for (int o = 0; o < s.OutChannels; o++)
                finish.Apply(new Span<float>(output + (nint)o * s.OutSpatial, s.OutSpatial), o, 0);
            return;
        }
        var problem = ForwardProblem(s, columns, output, transposed: false) with { PackedA = packedWeights };
        Gemm.MultiplyUnchecked(problem, _epilogue, _isa, _innerParallel);
    }

    private void BackwardInputImage(in Conv2dShape s, int n, float* columns, float* packedWeights)
    {
        float* gradImage = _arguments.Image + (nint)n * s.InputImageLength;
        // Pointwise writes the image directly.
        float* target = s.IsPointwise ? gradImage : columns;
        var problem = BackwardInputProblem(s, _arguments.Result + (nint)n * s.OutputImageLength, target) with { PackedA = packedWeights };
        Gemm.MultiplyUnchecked(problem, new NoEpilogue(), _isa, _innerParallel);
        if (!s.IsPointwise) Im2Col.Fold(s, columns, gradImage, _isa);
    }

    private void BackwardFilterImage(in Conv2dShape s, int n, float* workspace, int part, bool first)
    {
        float* image = _arguments.Image + (nint)n * s.InputImageLength;
        float* columns = workspace;
        if (s.IsPointwise) columns = image;
        else Im2Col.Unfold(s, image, columns, _isa);
        // Part 0 sums straight into the result; the others into their partial, added afterwards in part order.
        float* target = part == 0 ? _arguments.Filters : workspace + Conv2d.ColumnsLength(s);
        bool accumulate = !first || (part == 0 && _arguments.Accumulate);
        // gradWeights (O × CKK) += gradOutput[n] (O × P) · columnsᵀ (P × CKK)
        var problem = new GemmProblem(Transpose.None, Transpose.Transposed, s.OutChannels, s.PatchLength, s.OutSpatial,
            _arguments.Result + (nint)n * s.OutputImageLength, s.OutSpatial, columns, s.OutSpatial,
            target, s.PatchLength, accumulate);
        Gemm.MultiplyUnchecked(problem, new NoEpilogue(), _isa, _innerParallel);
    }
}
