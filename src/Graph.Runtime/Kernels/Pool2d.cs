using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Graph.Runtime.Kernels;

/// <summary>
/// Geometry of 2-D pooling over NCHW tensors: input [N, Channels, Height, Width], output
/// [N, Channels, OutHeight, OutWidth] with PyTorch's floor rounding (ceil_mode = false).
/// </summary>
/// <param name="Channels">Channels (pooled independently).</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="KernelH">Window height.</param>
/// <param name="KernelW">Window width.</param>
/// <param name="StrideH">Vertical stride.</param>
/// <param name="StrideW">Horizontal stride.</param>
/// <param name="PadH">Padding above and below (at most KernelH / 2, as in PyTorch).</param>
/// <param name="PadW">Padding left and right (at most KernelW / 2).</param>
public readonly record struct Pool2dShape(int Channels, int Height, int Width, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH = 0, int PadW = 0)
{
    /// <summary>Output height: (Height + 2·PadH − KernelH) / StrideH + 1.</summary>
    public int OutHeight => (Height + 2 * PadH - KernelH) / StrideH + 1;

    /// <summary>Output width: (Width + 2·PadW − KernelW) / StrideW + 1.</summary>
    public int OutWidth => (Width + 2 * PadW - KernelW) / StrideW + 1;

    /// <summary>Floats in one input image (Channels·Height·Width).</summary>
    public int InputImageLength => Channels * Height * Width;

    /// <summary>Floats in one output image (Channels·OutHeight·OutWidth).</summary>
    public int OutputImageLength => Channels * OutHeight * OutWidth;

    /// <summary>Throws if a dimension is out of range; padding is limited to half the window so every window holds input.</summary>
    public void Validate()
    {
        if (Channels < 1 || Height < 1 || Width < 1 || KernelH < 1 || KernelW < 1 || StrideH < 1 || StrideW < 1
            || PadH < 0 || PadW < 0 || PadH > KernelH / 2 || PadW > KernelW / 2
            || Height + 2 * PadH < KernelH || Width + 2 * PadW < KernelW)
            throw new ArgumentException($"Invalid pooling shape {this}.");
    }
}

/// <summary>
/// Max and average pooling over NCHW tensors with PyTorch semantics: padding counts as −∞ for max and as zeros
/// included in the divisor for average (count_include_pad = true, so the divisor is always KernelH·KernelW).
/// Forward passes reduce each window's rows with full-width vector operations before reducing across columns.
/// Planes (image, channel) are split across <see cref="WorkerPool"/> threads; results do not depend on the split.
/// </summary>
public static unsafe class Pool2d
{
    private enum Operation { MaxForward, MaxBackward, AvgForward, AvgBackward }

    // Below this many input elements a second thread costs more to wake than it saves.
    private const long ParallelThreshold = 1 << 16;

    /// <summary>Max pooling: each output is the largest input in its window (NaN if the window holds one).</summary>
    public static void MaxForward(in Pool2dShape s, int batch, ReadOnlySpan<float> input, Span<float> output) =>
        Run(Operation.MaxForward, s, batch, input, default, output);

    /// <summary>
    /// Gradient of max pooling, overwriting <paramref name="gradInput"/>. The argmax of each window is recomputed
    /// from <paramref name="input"/> (no index buffer): the first maximum in row-major window order receives the
    /// window's gradient, as in PyTorch; overlapping windows add up.
    /// </summary>
    public static void MaxBackward(in Pool2dShape s, int batch, ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, Span<float> gradInput) =>
        Run(Operation.MaxBackward, s, batch, input, gradOutput, gradInput);

    /// <summary>Average pooling: each output is its window's sum divided by KernelH·KernelW (padding counts as zeros).</summary>
    public static void AvgForward(in Pool2dShape s, int batch, ReadOnlySpan<float> input, Span<float> output) =>
        Run(Operation.AvgForward, s, batch, input, default, output);

    /// <summary>Gradient of average pooling, overwriting <paramref name="gradInput"/>.</summary>
    public static void AvgBackward(in Pool2dShape s, int batch, ReadOnlySpan<float> gradOutput, Span<float> gradInput) =>
        Run(Operation.AvgBackward, s, batch, default, gradOutput, gradInput);

    private static void Run(Operation operation, in Pool2dShape s, int batch, ReadOnlySpan<float> input,
        ReadOnlySpan<float> gradOutput, Span<float> result)
    {
        s.Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        long inputLength = (long)batch * s.InputImageLength, outputLength = (long)batch * s.OutputImageLength;
        bool backward = operation is Operation.MaxBackward or Operation.AvgBackward;
        if (operation != Operation.AvgBackward && input.Length < inputLength)
            throw new ArgumentException($"Needs {inputLength} input floats, got {input.Length}.", nameof(input));
        if (backward && gradOutput.Length < outputLength)
            throw new ArgumentException($"Needs {outputLength} output-gradient floats, got {gradOutput.Length}.", nameof(gradOutput));
        if (result.Length < (backward ? inputLength : outputLength))
            throw new ArgumentException($"Needs {(backward ? inputLength : outputLength)} result floats, got {result.Length}.", nameof(result));

        int planes = batch * s.Channels;
        int parts = inputLength >= ParallelThreshold ? Math.Min(WorkerPool.ThreadCount, planes) : 1;
        fixed (float* inputPointer = input)
        fixed (float* gradOutputPointer = gradOutput)
        fixed (float* resultPointer = result)
        {
            var job = PoolJob.ForCurrentThread;
            job.Set(operation, KernelIsaSelector.Current, s, planes, inputPointer, gradOutputPointer, resultPointer);
            WorkerPool.Run(job, parts);
        }
    }

    private sealed class PoolJob : ParallelJob
    {
        [ThreadStatic] private static PoolJob? t_instance;

        private Operation _operation;
        private KernelIsa _isa;
        private Pool2dShape _shape;
        private int _planes;
        private float* _input, _gradOutput, _result;

        public static PoolJob ForCurrentThread => t_instance ??= new PoolJob();

        public void Set(Operation operation, KernelIsa isa, in Pool2dShape shape, int planes, float* input, float* gradOutput, float* result)
        {
            (_operation, _isa, _shape, _planes) = (operation, isa, shape, planes);
            _input = input;
            _gradOutput = gradOutput;
            _result = result;
        }

        public override void Execute(int part, int partCount)
        {
            int first = (int)((long)_planes * part / partCount), end = (int)((long)_planes * (part + 1) / partCount);
            switch (_isa)
            {
                case KernelIsa.Avx512: Planes<Simd512, Vector512<float>>(first, end); break;
                case KernelIsa.Avx2: Planes<Simd256, Vector256<float>>(first, end); break;
                case KernelIsa.Vector: Planes<SimdPortable, Vector<float>>(first, end); break;
                default: Planes<SimdScalar, float>(first, end); break;
            }
        }

        private void Planes<TSimd, TVector>(int first, int end) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            Pool2dShape s = _shape;
            int planeIn = s.Height * s.Width, planeOut = s.OutHeight * s.OutWidth;
            // Tiling 2×2 windows never cross the boundary between planes of even height, so the range's planes are
            // one tall plane: one call instead of one per plane (LeNet-5's second pooling has 64·16 planes of 10×10).
            bool maxForward2x2 = _operation == Operation.MaxForward && Vector256.IsHardwareAccelerated && s.OutWidth >= 4;
            if (IsTiled2x2(s) && s.Height % 2 == 0 && end > first && (maxForward2x2 || _operation == Operation.MaxBackward))
            {
                Pool2dShape tall = s with { Height = s.Height * (end - first) };
                float* input = _input + (nint)first * planeIn;
                if (maxForward2x2) MaxForwardPlane2x2(tall, input, _result + (nint)first * planeOut);
                else MaxBackwardPlane(tall, input, _gradOutput + (nint)first * planeOut, _result + (nint)first * planeIn);
                return;
            }
            float* row = KernelScratch.Current.Get(s.Width);
            for (int plane = first; plane < end; plane++)
            {
                float* input = _input + (nint)plane * planeIn, gradInput = _result + (nint)plane * planeIn;
                float* output = _result + (nint)plane * planeOut, gradOutput = _gradOutput + (nint)plane * planeOut;
                switch (_operation)
                {
                    case Operation.MaxForward when IsTiled2x2(s) && Vector256.IsHardwareAccelerated && s.OutWidth >= 4:
                        MaxForwardPlane2x2(s, input, output); break;
                    case Operation.MaxForward: ForwardPlane<TSimd, TVector>(s, input, output, row, max: true); break;
                    case Operation.AvgForward: ForwardPlane<TSimd, TVector>(s, input, output, row, max: false); break;
                    case Operation.MaxBackward: MaxBackwardPlane(s, input, gradOutput, gradInput); break;
                    default: AvgBackwardPlane<TSimd, TVector>(s, gradOutput, gradInput, row); break;
                }
            }
        }
    }

    /// <summary>Per output row: reduce the window's input rows into <paramref name="row"/> (vectorized), then across columns.</summary>
    private static void ForwardPlane<TSimd, TVector>(in Pool2dShape s, float* input, float* output, float* row, bool max)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        float divisor = s.KernelH * s.KernelW;
        for (int oy = 0; oy < s.OutHeight; oy++)
        {
            WindowRows(s, oy, out int top, out int bottom);
            new ReadOnlySpan<float>(input + (nint)top * s.Width, s.Width).CopyTo(new Span<float>(row, s.Width));
            for (int iy = top + 1; iy < bottom; iy++)
                Combine<TSimd, TVector>(row, input + (nint)iy * s.Width, s.Width, max);
            float* outputRow = output + (nint)oy * s.OutWidth;
            for (int ox = 0; ox < s.OutWidth; ox++)
            {
                int left = ox * s.StrideW - s.PadW;
                int from = Math.Max(left, 0), to = Math.Min(left + s.KernelW, s.Width);
                float value = row[from];
                // MathF.Max, like the vector Max, returns NaN if either operand is NaN (PyTorch propagates NaN).
                if (max)
                    for (int ix = from + 1; ix < to; ix++) value = MathF.Max(value, row[ix]);
                else
                {
                    for (int ix = from + 1; ix < to; ix++) value += row[ix];
                    value /= divisor;
                }
                outputRow[ox] = value;
            }
        }
    }

    private static bool IsTiled2x2(in Pool2dShape s) =>
        s.KernelH == 2 && s.KernelW == 2 && s.StrideH == 2 && s.StrideW == 2 && s.PadH == 0 && s.PadW == 0;

    /// <summary>
    /// Max pooling with 2×2 windows, stride 2, no padding, four outputs per step (the last step overlapping): the
    /// vertical maximum of the two rows, then of each lane pair. Vector Max has MathF.Max's semantics (NaN propagates,
    /// +0 above −0), so the result equals the general path's.
    /// </summary>
    private static void MaxForwardPlane2x2(in Pool2dShape s, float* input, float* output)
    {
        int width = s.Width, outHeight = s.OutHeight, outWidth = s.OutWidth;
        var evens = Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6);
        var odds = Vector256.Create(1, 3, 5, 7, 1, 3, 5, 7);
        for (int oy = 0; oy < outHeight; oy++)
        {
            float* in0 = input + (nint)(2 * oy) * width, in1 = in0 + width;
            float* outRow = output + (nint)oy * outWidth;
            for (int start = 0; ; start += 4)
            {
                int at = Math.Min(start, outWidth - 4);
                var vertical = Vector256.Max(Vector256.Load(in0 + 2 * at), Vector256.Load(in1 + 2 * at));
                Vector256.Max(Vector256.Shuffle(vertical, evens), Vector256.Shuffle(vertical, odds)).GetLower().Store(outRow + at);
                if (at == outWidth - 4) break;
            }
        }
    }

    /// <summary>Clears the plane's gradient, then sends each window's gradient to its first maximum.</summary>
    private static void MaxBackwardPlane(in Pool2dShape s, float* input, float* gradOutput, float* gradInput)
    {
        if (s.KernelH == 2 && s.KernelW == 2 && s.StrideH == 2 && s.StrideW == 2 && s.PadH == 0 && s.PadW == 0)
        {
            MaxBackwardPlane2x2(s, input, gradOutput, gradInput);
            return;
        }
        new Span<float>(gradInput, s.Height * s.Width).Clear();
        for (int oy = 0; oy < s.OutHeight; oy++)
        {
            WindowRows(s, oy, out int top, out int bottom);
            for (int ox = 0; ox < s.OutWidth; ox++)
            {
                int left = ox * s.StrideW - s.PadW;
                int from = Math.Max(left, 0), to = Math.Min(left + s.KernelW, s.Width);
                nint best = (nint)top * s.Width + from;
                float bestValue = float.NegativeInfinity;
                for (int iy = top; iy < bottom; iy++)
                    for (int ix = from; ix < to; ix++)
                    {
                        float value = input[(nint)iy * s.Width + ix];
                        // PyTorch's rule: a strictly larger value or a NaN takes over, so ties keep the first.
                        if (value > bestValue || float.IsNaN(value)) { bestValue = value; best = (nint)iy * s.Width + ix; }
                    }
                gradInput[best] += gradOutput[(nint)oy * s.OutWidth + ox];
            }
        }
    }

    /// <summary>
    /// <see cref="MaxBackwardPlane"/> for 2×2 windows with stride 2 and no padding (the common case): the windows tile
    /// the plane, so each is written whole (the gradient at its first maximum, zeros elsewhere) without a clearing pass
    /// or read-modify-write, and the argmax is chosen without branches. Rows and columns no window covers are cleared.
    /// Same selection rule as the general path: a strictly larger value or a NaN takes over, in row-major order.
    /// </summary>
    private static void MaxBackwardPlane2x2(in Pool2dShape s, float* input, float* gradOutput, float* gradInput)
    {
        int width = s.Width, outHeight = s.OutHeight, outWidth = s.OutWidth;
        for (int oy = 0; oy < outHeight; oy++)
        {
            float* in0 = input + (nint)(2 * oy) * width, in1 = in0 + width;
            float* out0 = gradInput + (nint)(2 * oy) * width, out1 = out0 + width;
            float* grad = gradOutput + (nint)oy * outWidth;
            int ox = 0;
            if (Vector256.IsHardwareAccelerated && outWidth >= 4)
            {
                // Four windows per step; the last step overlaps the previous one (it rewrites the same values).
                for (int start = 0; ; start += 4)
                {
                    int at = Math.Min(start, outWidth - 4);
                    MaxBackward2x2Four(in0 + 2 * at, in1 + 2 * at, grad + at, out0 + 2 * at, out1 + 2 * at);
                    if (at == outWidth - 4) break;
                }
                ox = outWidth;
            }
            for (; ox < outWidth; ox++)
            {
                int x = 2 * ox;
                float a = in0[x], b = in0[x + 1], c = in1[x], d = in1[x + 1];
                // Sequential rule, branch-free: best starts at a (a −∞ first element also keeps index 0).
                float best = a;
                int index = 0;
                bool takeB = b > best || float.IsNaN(b);
                best = takeB ? b : best; index = takeB ? 1 : index;
                bool takeC = c > best || float.IsNaN(c);
                best = takeC ? c : best; index = takeC ? 2 : index;
                bool takeD = d > best || float.IsNaN(d);
                index = takeD ? 3 : index;
                float g = grad[ox];
                out0[x] = index == 0 ? g : 0f;
                out0[x + 1] = index == 1 ? g : 0f;
                out1[x] = index == 2 ? g : 0f;
                out1[x + 1] = index == 3 ? g : 0f;
            }
            if (width > 2 * outWidth)
            {
                out0[width - 1] = 0f;
                out1[width - 1] = 0f;
            }
        }
        if (s.Height > 2 * outHeight) new Span<float>(gradInput + (nint)(s.Height - 1) * width, width).Clear();
    }

    /// <summary>
    /// Four 2×2 windows at once: each lane pair holds one window's four values broadcast, the sequential selection
    /// rule runs on whole vectors, and the window's gradient goes to the lane whose position was chosen.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaxBackward2x2Four(float* in0, float* in1, float* grad, float* out0, float* out1)
    {
        var top = Vector256.Load(in0);
        var bottom = Vector256.Load(in1);
        var evens = Vector256.Create(0, 0, 2, 2, 4, 4, 6, 6);
        var odds = Vector256.Create(1, 1, 3, 3, 5, 5, 7, 7);
        var a = Vector256.Shuffle(top, evens);
        var b = Vector256.Shuffle(top, odds);
        var c = Vector256.Shuffle(bottom, evens);
        var d = Vector256.Shuffle(bottom, odds);
        var best = a;
        var index = Vector256<float>.Zero;
        var take = Vector256.GreaterThan(b, best) | ~Vector256.Equals(b, b);
        best = Vector256.ConditionalSelect(take, b, best);
        index = Vector256.ConditionalSelect(take, Vector256.Create(1f), index);
        take = Vector256.GreaterThan(c, best) | ~Vector256.Equals(c, c);
        best = Vector256.ConditionalSelect(take, c, best);
        index = Vector256.ConditionalSelect(take, Vector256.Create(2f), index);
        take = Vector256.GreaterThan(d, best) | ~Vector256.Equals(d, d);
        index = Vector256.ConditionalSelect(take, Vector256.Create(3f), index);
        var g = Vector256.Shuffle(Vector256.Create(Vector128.Load(grad), Vector128<float>.Zero), Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3));
        var topPositions = Vector256.Create(0f, 1f, 0f, 1f, 0f, 1f, 0f, 1f);
        var bottomPositions = Vector256.Create(2f, 3f, 2f, 3f, 2f, 3f, 2f, 3f);
        Vector256.ConditionalSelect(Vector256.Equals(index, topPositions), g, Vector256<float>.Zero).Store(out0);
        Vector256.ConditionalSelect(Vector256.Equals(index, bottomPositions), g, Vector256<float>.Zero).Store(out1);
    }

    /// <summary>
    /// Clears the plane's gradient; per output row, spreads each window's share across columns into
    /// <paramref name="row"/>, then adds that row to each input row of the window (vectorized).
    /// </summary>
    private static void AvgBackwardPlane<TSimd, TVector>(in Pool2dShape s, float* gradOutput, float* gradInput, float* row)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        new Span<float>(gradInput, s.Height * s.Width).Clear();
        float scale = 1f / (s.KernelH * s.KernelW);
        for (int oy = 0; oy < s.OutHeight; oy++)
        {
            WindowRows(s, oy, out int top, out int bottom);
            new Span<float>(row, s.Width).Clear();
            for (int ox = 0; ox < s.OutWidth; ox++)
            {
                float share = gradOutput[(nint)oy * s.OutWidth + ox] * scale;
                int left = ox * s.StrideW - s.PadW;
                int from = Math.Max(left, 0), to = Math.Min(left + s.KernelW, s.Width);
                for (int ix = from; ix < to; ix++) row[ix] += share;
            }
            for (int iy = top; iy < bottom; iy++)
                Combine<TSimd, TVector>(gradInput + (nint)iy * s.Width, row, s.Width, max: false);
        }
    }

    /// <summary>The input rows [top, bottom) that output row <paramref name="oy"/>'s windows cover, padding excluded.</summary>
    private static void WindowRows(in Pool2dShape s, int oy, out int top, out int bottom)
    {
        int start = oy * s.StrideH - s.PadH;
        top = Math.Max(start, 0);
        bottom = Math.Min(start + s.KernelH, s.Height);
    }

    /// <summary><c>target[i] = max(target[i], source[i])</c> or <c>target[i] += source[i]</c>.</summary>
    private static void Combine<TSimd, TVector>(float* target, float* source, int count, bool max)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        int i = 0;
        if (max)
        {
            for (; i <= count - TSimd.Count; i += TSimd.Count)
                TSimd.Store(TSimd.Max(TSimd.Load(target + i), TSimd.Load(source + i)), target + i);
            for (; i < count; i++) target[i] = MathF.Max(target[i], source[i]);
        }
        else
        {
            for (; i <= count - TSimd.Count; i += TSimd.Count)
                TSimd.Store(TSimd.Add(TSimd.Load(target + i), TSimd.Load(source + i)), target + i);
            for (; i < count; i++) target[i] += source[i];
        }
    }
}
