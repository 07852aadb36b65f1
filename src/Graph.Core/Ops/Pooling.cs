using System;
using System.Collections.Generic;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;

namespace Graph.Ops;

/// <summary>Shared shape rule and window walk of the 2-D pooling ops on [N,C,H,W].</summary>
public abstract class Pool2dOpBase : Op
{
    /// <summary>Creates the op.</summary>
    protected Pool2dOpBase(Window2d window) => Window = window;

    /// <summary>Window geometry.</summary>
    public Window2d Window { get; }

    /// <inheritdoc />
    public override string Attributes => Window.ToString();

    /// <summary>Output shape for an input of <paramref name="x"/>.</summary>
    protected Shape PooledShape(Shape x)
    {
        if (x.Rank != 4) throw new ShapeException($"input must be [N,C,H,W], got {x}");
        if (x[2] == Shape.Batch || x[3] == Shape.Batch) throw new ShapeException("only dimension 0 may be the batch");
        if (Window.PadH * 2 > Window.KernelH || Window.PadW * 2 > Window.KernelW)
            throw new ShapeException($"padding must be at most half the window ({Window})");
        Window.Check(x[2], x[3]);
        return new Shape(x[0], x[1], Window.OutH(x[2]), Window.OutW(x[3]));
    }

    /// <summary>Type of pooling one [N,C,H,W] operand.</summary>
    protected TensorType PooledType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 1);
        return new TensorType(inputs[0].DType, PooledShape(inputs[0].Shape));
    }

    /// <summary>Concrete output dimensions for an input of <paramref name="xDims"/>.</summary>
    protected int[] PooledDims(int[] xDims) => new[] { xDims[0], xDims[1], Window.OutH(xDims[2]), Window.OutW(xDims[3]) };

    /// <summary>Calls <paramref name="visit"/>(outputIndex, inputIndex or -1 for padding) over every window position in order.</summary>
    protected void ForEachWindow(int[] xDims, Action<int, int> visit)
    {
        int planes = xDims[0] * xDims[1], h = xDims[2], w = xDims[3];
        int oh = Window.OutH(h), ow = Window.OutW(w);
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    int outIndex = (p * oh + i) * ow + j;
                    for (int ki = 0; ki < Window.KernelH; ki++)
                        for (int kj = 0; kj < Window.KernelW; kj++)
                        {
                            int r = i * Window.StrideH - Window.PadH + ki, s = j * Window.StrideW - Window.PadW + kj;
                            visit(outIndex, r < 0 || r >= h || s < 0 || s >= w ? -1 : (p * h + r) * w + s);
                        }
                }
    }
}

/// <summary>Max pooling; padding never wins. The gradient goes to the first maximum of each window (PyTorch).</summary>
public sealed class MaxPool2dOp : Pool2dOpBase
{
    /// <summary>Creates the op.</summary>
    public MaxPool2dOp(Window2d window) : base(window) { }
    /// <inheritdoc />
    public override string Name => "maxpool2d";
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs) => PooledType(inputs);
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var x = inputs[0];
        var dims = PooledDims(x.Dims);
        var y = new double[TensorValue.Product(dims)];
        for (int i = 0; i < y.Length; i++) y[i] = double.NegativeInfinity;
        ForEachWindow(x.Dims, (o, i) => { if (i >= 0 && x.Data[i] > y[o]) y[o] = x.Data[i]; });
        return new TensorValue(dims, y);
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c) =>
        new[] { c.Gradient.Builder.Apply(new MaxPool2dGradOp(Window), c.Inputs[0], c.Gradient) };
}

/// <summary>
/// Gradient of max pooling: routes dy [N,C,OH,OW] to the first maximum of each window of x.
/// Recomputes the argmax from x rather than storing indices. Not differentiable again.
/// </summary>
public sealed class MaxPool2dGradOp : Pool2dOpBase
{
    /// <summary>Creates the op.</summary>
    public MaxPool2dGradOp(Window2d window) : base(window) { }
    /// <inheritdoc />
    public override string Name => "maxpool2d_grad";
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 2);
        if (!PooledShape(inputs[0].Shape).Equals(inputs[1].Shape))
            throw new ShapeException($"output gradient {inputs[1].Shape} does not match pooling {inputs[0].Shape} with {Window}");
        return inputs[0];
    }
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var x = inputs[0];
        var dy = inputs[1];
        var best = new int[dy.Length];
        var bestValue = new double[dy.Length];
        for (int i = 0; i < best.Length; i++) { best[i] = -1; bestValue[i] = double.NegativeInfinity; }
        ForEachWindow(x.Dims, (o, i) =>
        {
            if (i >= 0 && (best[o] < 0 || x.Data[i] > bestValue[o])) { best[o] = i; bestValue[o] = x.Data[i]; }
        });
        var dx = new double[x.Length];
        for (int o = 0; o < best.Length; o++) if (best[o] >= 0) dx[best[o]] += dy.Data[o];
        return new TensorValue(x.Dims, dx);
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c) =>
        throw new NotSupportedException("Second derivatives through max pooling are not supported.");
}

/// <summary>Average pooling; padded positions count as zeros in the divisor (PyTorch's count_include_pad=True).</summary>
public sealed class AvgPool2dOp : Pool2dOpBase
{
    /// <summary>Creates the op.</summary>
    public AvgPool2dOp(Window2d window) : base(window) { }
    /// <inheritdoc />
    public override string Name => "avgpool2d";
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs) => PooledType(inputs);
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var x = inputs[0];
        var dims = PooledDims(x.Dims);
        var y = new double[TensorValue.Product(dims)];
        double scale = 1.0 / (Window.KernelH * Window.KernelW);
        ForEachWindow(x.Dims, (o, i) => { if (i >= 0) y[o] += x.Data[i] * scale; });
        return new TensorValue(dims, y);
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        var x = c.Inputs[0];
        return new[] { c.Gradient.Builder.Apply(new AvgPool2dGradOp(Window, x.Shape[2], x.Shape[3]), c.Gradient) };
    }
}

/// <summary>Gradient of average pooling: spreads dy evenly over each window. Linear, so its own VJP is average pooling.</summary>
public sealed class AvgPool2dGradOp : Pool2dOpBase
{
    /// <summary>Creates the op.</summary>
    public AvgPool2dGradOp(Window2d window, int height, int width) : base(window)
    {
        Height = height;
        Width = width;
    }
    /// <summary>Input height of the forward pooling.</summary>
    public int Height { get; }
    /// <summary>Input width of the forward pooling.</summary>
    public int Width { get; }
    /// <inheritdoc />
    public override string Name => "avgpool2d_grad";
    /// <inheritdoc />
    public override string Attributes => $"{Window},in={Height}x{Width}";
    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 1);
        var dy = inputs[0].Shape;
        var x = new Shape(dy.Rank == 4 ? dy[0] : 1, dy.Rank == 4 ? dy[1] : 1, Height, Width);
        if (dy.Rank != 4 || !PooledShape(x).Equals(dy))
            throw new ShapeException($"output gradient {dy} does not match pooling a {Height}x{Width} input with {Window}");
        return new TensorType(inputs[0].DType, x);
    }
    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var dy = inputs[0];
        var dims = new[] { dy.Dims[0], dy.Dims[1], Height, Width };
        var dx = new double[TensorValue.Product(dims)];
        double scale = 1.0 / (Window.KernelH * Window.KernelW);
        ForEachWindow(dims, (o, i) => { if (i >= 0) dx[i] += dy.Data[o] * scale; });
        return new TensorValue(dims, dx);
    }
    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c) =>
        new[] { c.Gradient.Builder.Apply(new AvgPool2dOp(Window), c.Gradient) };
}
