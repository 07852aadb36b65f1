using System.Runtime.CompilerServices;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Builder;

public sealed partial class Tensor
{
    /// <summary>
    /// Fully connected layer: this [N, in] · W [in, out] + b [out]. Parameters are "name.weight" and
    /// "name.bias"; both default to PyTorch's Linear initialization, U(±1/√in).
    /// </summary>
    public Tensor Dense(int units, string? name = null, Initializer? weightInit = null, Initializer? biasInit = null, bool bias = true,
        [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (Shape.Rank != 2)
            throw new ShapeException($"dense expects [N, features], got {Shape}; call Flatten() first", "dense", Type.ToString(), Builder.Location(file, line));
        name ??= Builder.AutoName("dense");
        int inputs = Shape[1];
        var w = Builder.Parameter(name + ".weight", new[] { inputs, units }, (weightInit ?? Init.TorchDefault).WithFans(inputs, units), file, line);
        var y = MatMul(w, false, false, name, file, line);
        if (!bias) return y;
        var b = Builder.Parameter(name + ".bias", new[] { units }, (biasInit ?? Init.TorchDefault).WithFans(inputs, units), file, line);
        return y.Add(b, name, file, line);
    }

    /// <summary>
    /// 2-D convolution layer on [N, C, H, W] with square kernel, stride and zero padding. Parameters are
    /// "name.weight" [out, C, k, k] and "name.bias" [out], PyTorch's Conv2d initialization by default.
    /// </summary>
    public Tensor Conv2d(int outChannels, int kernel, int stride = 1, int padding = 0, string? name = null,
        Initializer? weightInit = null, Initializer? biasInit = null, bool bias = true,
        [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (Shape.Rank != 4)
            throw new ShapeException($"conv2d expects [N, C, H, W], got {Shape}", "conv2d", Type.ToString(), Builder.Location(file, line));
        name ??= Builder.AutoName("conv");
        int channels = Shape[1];
        int fanIn = channels * kernel * kernel, fanOut = outChannels * kernel * kernel;
        var w = Builder.Parameter(name + ".weight", new[] { outChannels, channels, kernel, kernel }, (weightInit ?? Init.TorchDefault).WithFans(fanIn, fanOut), file, line);
        var y = Builder.Apply(new Conv2dOp(stride, stride, padding, padding), new[] { this, w }, name, file, line);
        if (!bias) return y;
        var b = Builder.Parameter(name + ".bias", new[] { outChannels }, (biasInit ?? Init.TorchDefault).WithFans(fanIn, fanOut), file, line);
        return y.Add(b.Reshape(new[] { outChannels, 1, 1 }, null, file, line), name, file, line);
    }

    /// <summary>Convolution with given filters [O, C, KH, KW] (no bias).</summary>
    public Tensor Conv2d(Tensor filters, int stride = 1, int padding = 0, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Builder.Apply(new Conv2dOp(stride, stride, padding, padding), new[] { this, filters }, name, file, line);

    /// <summary>Max pooling with a square window; stride defaults to the window size (PyTorch).</summary>
    public Tensor MaxPool2d(int kernel, int? stride = null, int padding = 0, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Unary(new MaxPool2dOp(new Window2d(kernel, kernel, stride ?? kernel, stride ?? kernel, padding, padding)), name, file, line);

    /// <summary>Average pooling with a square window; padding counts as zeros (PyTorch's count_include_pad=True).</summary>
    public Tensor AvgPool2d(int kernel, int? stride = null, int padding = 0, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Unary(new AvgPool2dOp(new Window2d(kernel, kernel, stride ?? kernel, stride ?? kernel, padding, padding)), name, file, line);

    /// <summary>
    /// Inverted dropout: in training, zeroes each element with probability <paramref name="p"/> and
    /// scales the rest by 1/(1−p); in evaluation, the identity.
    /// </summary>
    public Tensor Dropout(double p = 0.5, string? name = null, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (p == 0) return this;
        var mask = Builder.Apply(new DropoutMaskOp(p, Builder.NextRandomStream()), new[] { this }, null, file, line);
        return Builder.ModeSelect(Mul(mask, null, file, line), this);
    }

    /// <summary>
    /// Batch normalization over the batch (and spatial axes for [N,C,H,W]), PyTorch semantics: training
    /// normalizes with the batch's biased variance and updates running mean and unbiased variance with
    /// <paramref name="momentum"/>; evaluation uses the running statistics. Parameters "name.weight"
    /// (γ, ones) and "name.bias" (β, zeros); state "name.running_mean" (zeros) and "name.running_var" (ones).
    /// </summary>
    public Tensor BatchNorm(string? name = null, double momentum = 0.1, double epsilon = 1e-5,
        [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (Shape.Rank != 2 && Shape.Rank != 4)
            throw new ShapeException($"batch norm expects [N, C] or [N, C, H, W], got {Shape}", "batch_norm", Type.ToString(), Builder.Location(file, line));
        name ??= Builder.AutoName("bn");
        int channels = Shape[1];
        var axes = Shape.Rank == 2 ? new[] { 0 } : new[] { 0, 2, 3 };
        var perChannel = Shape.Rank == 2 ? new[] { channels } : new[] { channels, 1, 1 };
        var gamma = Builder.Parameter(name + ".weight", new[] { channels }, Init.Ones, file, line).Reshape(perChannel, null, file, line);
        var beta = Builder.Parameter(name + ".bias", new[] { channels }, Init.Zeros, file, line).Reshape(perChannel, null, file, line);
        var runningMean = Builder.State(name + ".running_mean", new[] { channels }, Init.Zeros, file, line);
        var runningVar = Builder.State(name + ".running_var", new[] { channels }, Init.Ones, file, line);

        var count = Count(axes, file, line);
        var mean = Sum(axes, true, null, file, line).Div(count, null, file, line);
        var centered = Sub(mean, null, file, line);
        var sumSquares = centered.Square(null, file, line).Sum(axes, true, null, file, line);
        var variance = sumSquares.Div(count, null, file, line);
        var trainOut = centered.Div(variance.Add(Scalar(epsilon), null, file, line).Sqrt(null, file, line), null, file, line);

        var evalMean = runningMean.Reshape(perChannel, null, file, line);
        var evalStd = runningVar.Reshape(perChannel, null, file, line).Add(Scalar(epsilon), null, file, line).Sqrt(null, file, line);
        var evalOut = Sub(evalMean, null, file, line).Div(evalStd, null, file, line);

        var unbiased = sumSquares.Div(count.Sub(Scalar(1), null, file, line), null, file, line);
        Builder.UpdateState(runningMean, runningMean * (1 - momentum) + mean.Reshape(new[] { channels }, null, file, line) * momentum);
        Builder.UpdateState(runningVar, runningVar * (1 - momentum) + unbiased.Reshape(new[] { channels }, null, file, line) * momentum);

        return Builder.ModeSelect(trainOut, evalOut).Mul(gamma, null, file, line).Add(beta, name, file, line);
    }
}
