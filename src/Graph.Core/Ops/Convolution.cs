using System;
using System.Collections.Generic;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;

namespace Graph.Ops;

/// <summary>Stride and zero-padding of a 2-D sliding window (convolution or pooling).</summary>
public sealed class Window2d
{
    /// <summary>Creates the geometry.</summary>
    public Window2d(int kernelH, int kernelW, int strideH, int strideW, int padH, int padW)
    {
        KernelH = kernelH; KernelW = kernelW; StrideH = strideH; StrideW = strideW; PadH = padH; PadW = padW;
    }
    /// <summary>Window height.</summary>
    public int KernelH { get; }
    /// <summary>Window width.</summary>
    public int KernelW { get; }
    /// <summary>Vertical step.</summary>
    public int StrideH { get; }
    /// <summary>Horizontal step.</summary>
    public int StrideW { get; }
    /// <summary>Zero rows added above and below.</summary>
    public int PadH { get; }
    /// <summary>Zero columns added left and right.</summary>
    public int PadW { get; }

    /// <summary>Output height for input height <paramref name="h"/> (PyTorch's floor rule).</summary>
    public int OutH(int h) => (h + 2 * PadH - KernelH) / StrideH + 1;

    /// <summary>Output width for input width <paramref name="w"/>.</summary>
    public int OutW(int w) => (w + 2 * PadW - KernelW) / StrideW + 1;

    /// <summary>Checks the window fits an input of h×w.</summary>
    public void Check(int h, int w)
    {
        if (KernelH < 1 || KernelW < 1 || StrideH < 1 || StrideW < 1 || PadH < 0 || PadW < 0)
            throw new ShapeException($"invalid window {this}");
        if (h + 2 * PadH < KernelH || w + 2 * PadW < KernelW)
            throw new ShapeException($"window {KernelH}x{KernelW} does not fit a padded {h + 2 * PadH}x{w + 2 * PadW} input");
    }

    /// <summary>Stable text.</summary>
    public override string ToString() => $"k={KernelH}x{KernelW},s={StrideH}x{StrideW},p={PadH}x{PadW}";
}

/// <summary>
/// 2-D cross-correlation (what deep-learning calls convolution) of x [N,C,H,W] with filters
/// w [O,C,KH,KW], giving [N,O,OH,OW]. Bias is a separate broadcast add, fused later.
/// </summary>
public sealed class Conv2dOp : Op
{
    /// <summary>Creates the op; kernel sizes come from the filter operand.</summary>
    public Conv2dOp(int strideH, int strideW, int padH, int padW)
    {
        StrideH = strideH; StrideW = strideW; PadH = padH; PadW = padW;
    }
    /// <summary>Vertical stride.</summary>
    public int StrideH { get; }
    /// <summary>Horizontal stride.</summary>
    public int StrideW { get; }
    /// <summary>Vertical zero padding.</summary>
    public int PadH { get; }
    /// <summary>Horizontal zero padding.</summary>
    public int PadW { get; }
    /// <inheritdoc />
    public override string Name => "conv2d";
    /// <inheritdoc />
    public override string Attributes => $"s={StrideH}x{StrideW},p={PadH}x{PadW}";

    /// <summary>The window for a filter of kh×kw.</summary>
    public Window2d Window(int kh, int kw) => new(kh, kw, StrideH, StrideW, PadH, PadW);

    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 2);
        var x = inputs[0].Shape;
        var w = inputs[1].Shape;
        if (x.Rank != 4) throw new ShapeException($"input must be [N,C,H,W], got {x}");
        if (w.Rank != 4) throw new ShapeException($"filters must be [O,C,KH,KW], got {w}");
        if (x[1] != w[1]) throw new ShapeException($"input has {x[1]} channels but filters expect {w[1]}");
        if (x[2] == Shape.Batch || x[3] == Shape.Batch || x[1] == Shape.Batch) throw new ShapeException("only dimension 0 may be the batch");
        var window = Window(w[2], w[3]);
        window.Check(x[2], x[3]);
        return new TensorType(inputs[0].DType, new Shape(x[0], w[0], window.OutH(x[2]), window.OutW(x[3])));
    }

    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context) =>
        ConvReference.Forward(inputs[0], inputs[1], Window(inputs[1].Dims[2], inputs[1].Dims[3]));

    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        var x = c.Inputs[0];
        var w = c.Inputs[1];
        var window = Window(w.Shape[2], w.Shape[3]);
        return new[]
        {
            Conv2dInputGradOp.Build(c.Gradient, w, window, x.Shape[2], x.Shape[3]),
            Conv2dFilterGradOp.Build(x, c.Gradient, window),
        };
    }
}

/// <summary>Gradient of a convolution with respect to its input: a transposed convolution of dy [N,O,OH,OW] with w.</summary>
public sealed class Conv2dInputGradOp : Op
{
    /// <summary>Creates the op.</summary>
    public Conv2dInputGradOp(Window2d window, int height, int width)
    {
        Window = window; Height = height; Width = width;
    }
    /// <summary>The forward convolution's geometry.</summary>
    public Window2d Window { get; }
    /// <summary>Input height of the forward convolution (not recoverable from the output when strides floor).</summary>
    public int Height { get; }
    /// <summary>Input width of the forward convolution.</summary>
    public int Width { get; }
    /// <inheritdoc />
    public override string Name => "conv2d_input_grad";
    /// <inheritdoc />
    public override string Attributes => $"{Window},in={Height}x{Width}";

    internal static Tensor Build(Tensor dy, Tensor w, Window2d window, int h, int width) =>
        dy.Builder.Apply(new Conv2dInputGradOp(window, h, width), dy, w);

    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 2);
        var dy = inputs[0].Shape;
        var w = inputs[1].Shape;
        if (dy.Rank != 4 || w.Rank != 4 || dy[1] != w[0] || w[2] != Window.KernelH || w[3] != Window.KernelW
            || dy[2] != Window.OutH(Height) || dy[3] != Window.OutW(Width))
            throw new ShapeException($"output gradient {dy} and filters {w} do not match a {Window} convolution of a {Height}x{Width} input");
        return new TensorType(inputs[0].DType, new Shape(dy[0], w[1], Height, Width));
    }

    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context) =>
        ConvReference.InputGrad(inputs[0], inputs[1], Window, Height, Width);

    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        // dx is linear in dy and in w: its adjoints are a forward convolution and a filter gradient.
        var conv = new Conv2dOp(Window.StrideH, Window.StrideW, Window.PadH, Window.PadW);
        return new[]
        {
            c.Gradient.Builder.Apply(conv, c.Gradient, c.Inputs[1]),
            Conv2dFilterGradOp.Build(c.Gradient, c.Inputs[0], Window),
        };
    }
}

/// <summary>Gradient of a convolution with respect to its filters: Σ over the batch of x ⋆ dy, shape [O,C,KH,KW].</summary>
public sealed class Conv2dFilterGradOp : Op
{
    /// <summary>Creates the op.</summary>
    public Conv2dFilterGradOp(Window2d window) => Window = window;
    /// <summary>The forward convolution's geometry.</summary>
    public Window2d Window { get; }
    /// <inheritdoc />
    public override string Name => "conv2d_filter_grad";
    /// <inheritdoc />
    public override string Attributes => Window.ToString();

    internal static Tensor Build(Tensor x, Tensor dy, Window2d window) =>
        x.Builder.Apply(new Conv2dFilterGradOp(window), x, dy);

    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 2);
        var x = inputs[0].Shape;
        var dy = inputs[1].Shape;
        if (x.Rank != 4 || dy.Rank != 4 || x[0] != dy[0] || dy[2] != Window.OutH(x[2]) || dy[3] != Window.OutW(x[3]))
            throw new ShapeException($"input {x} and output gradient {dy} do not match a {Window} convolution");
        return new TensorType(inputs[0].DType, new Shape(dy[1], x[1], Window.KernelH, Window.KernelW));
    }

    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context) =>
        ConvReference.FilterGrad(inputs[0], inputs[1], Window);

    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        var x = c.Inputs[0];
        var conv = new Conv2dOp(Window.StrideH, Window.StrideW, Window.PadH, Window.PadW);
        return new[]
        {
            Conv2dInputGradOp.Build(c.Inputs[1], c.Gradient, Window, x.Shape[2], x.Shape[3]),
            c.Gradient.Builder.Apply(conv, x, c.Gradient),
        };
    }
}

/// <summary>The obvious seven-loop convolutions the interpreter uses.</summary>
internal static class ConvReference
{
    public static TensorValue Forward(TensorValue x, TensorValue w, Window2d win)
    {
        int oh = win.OutH(x.Dims[2]), ow = win.OutW(x.Dims[3]);
        var y = TensorValue.Zeros(new[] { x.Dims[0], w.Dims[0], oh, ow });
        ForEachTap(x.Dims, w.Dims[0], win, (yi, xi, wi) => y.Data[yi] += x.Data[xi] * w.Data[wi]);
        return y;
    }

    public static TensorValue InputGrad(TensorValue dy, TensorValue w, Window2d win, int h, int width)
    {
        var dx = TensorValue.Zeros(new[] { dy.Dims[0], w.Dims[1], h, width });
        ForEachTap(dx.Dims, w.Dims[0], win, (yi, xi, wi) => dx.Data[xi] += dy.Data[yi] * w.Data[wi]);
        return dx;
    }

    public static TensorValue FilterGrad(TensorValue x, TensorValue dy, Window2d win)
    {
        var dw = TensorValue.Zeros(new[] { dy.Dims[1], x.Dims[1], win.KernelH, win.KernelW });
        ForEachTap(x.Dims, dy.Dims[1], win, (yi, xi, wi) => dw.Data[wi] += dy.Data[yi] * x.Data[xi]);
        return dw;
    }

    /// <summary>
    /// Visits every (output, input, filter) index triple of a convolution of an input of <paramref name="xDims"/>
    /// [N,C,H,W] with <paramref name="filters"/> filters, skipping taps that fall in the zero padding.
    /// </summary>
    private static void ForEachTap(int[] xDims, int filters, Window2d win, Action<int, int, int> visit)
    {
        int n = xDims[0], c = xDims[1], h = xDims[2], wd = xDims[3];
        int oh = win.OutH(h), ow = win.OutW(wd);
        for (int b = 0; b < n; b++)
            for (int f = 0; f < filters; f++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        int yi = ((b * filters + f) * oh + i) * ow + j;
                        for (int ch = 0; ch < c; ch++)
                            for (int ki = 0; ki < win.KernelH; ki++)
                                for (int kj = 0; kj < win.KernelW; kj++)
                                {
                                    int r = i * win.StrideH - win.PadH + ki, s = j * win.StrideW - win.PadW + kj;
                                    if (r < 0 || r >= h || s < 0 || s >= wd) continue;
                                    visit(yi, ((b * c + ch) * h + r) * wd + s, ((f * c + ch) * win.KernelH + ki) * win.KernelW + kj);
                                }
                    }
    }
}
