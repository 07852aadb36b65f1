using System;
using System.Globalization;

namespace Graph.Ir;

/// <summary>The named initializers a parameter can ask for (PyTorch's <c>torch.nn.init</c> set).</summary>
public enum InitKind
{
    /// <summary>All zeros.</summary>
    Zeros,
    /// <summary>All equal to <see cref="Initializer.A"/>.</summary>
    Constant,
    /// <summary>U(A, B).</summary>
    Uniform,
    /// <summary>N(A, B²): mean A, standard deviation B.</summary>
    Normal,
    /// <summary>Glorot: U(±gain·√(6/(fanIn+fanOut))), gain = A.</summary>
    XavierUniform,
    /// <summary>Glorot: N(0, gain²·2/(fanIn+fanOut)), gain = A.</summary>
    XavierNormal,
    /// <summary>He: U(±gain·√(3/fanIn)), gain = A (√2 for ReLU).</summary>
    HeUniform,
    /// <summary>He: N(0, gain²/fanIn), gain = A.</summary>
    HeNormal,
    /// <summary>PyTorch's default for Linear/Conv weights and biases: U(±1/√fanIn).</summary>
    TorchDefault,
}

/// <summary>
/// How a parameter is initialized: a kind, its numbers, and the fans computed by the layer
/// that created it (the IR stores dense weights as [in, out], so fans cannot be guessed from shape).
/// </summary>
public sealed class Initializer
{
    /// <summary>Creates an initializer description.</summary>
    public Initializer(InitKind kind, double a = 0, double b = 0, int fanIn = 0, int fanOut = 0)
    {
        Kind = kind;
        A = a;
        B = b;
        FanIn = fanIn;
        FanOut = fanOut;
    }

    /// <summary>Which initializer.</summary>
    public InitKind Kind { get; }

    /// <summary>First number (constant value, lower bound, mean or gain, by kind).</summary>
    public double A { get; }

    /// <summary>Second number (upper bound or standard deviation, by kind).</summary>
    public double B { get; }

    /// <summary>Fan-in used by scaled initializers.</summary>
    public int FanIn { get; }

    /// <summary>Fan-out used by scaled initializers.</summary>
    public int FanOut { get; }

    /// <summary>
    /// The fans to scale by for a parameter of <paramref name="shape"/>: the ones the layer recorded, or else PyTorch's rule
    /// for shape [out, in, k...] (fan-in = in·k..., fan-out = out·k...).
    /// </summary>
    public (int FanIn, int FanOut) FansFor(Shape shape)
    {
        if (FanIn != 0 || FanOut != 0) return (FanIn, FanOut);
        long receptive = 1;
        for (int d = 2; d < shape.Rank; d++) receptive *= shape[d];
        return shape.Rank >= 2 ? ((int)(shape[1] * receptive), (int)(shape[0] * receptive))
            : shape.Rank == 1 ? (shape[0], shape[0]) : (1, 1);
    }

    /// <summary>
    /// For the fan-scaled kinds (Xavier, He, PyTorch's default): U(−Scale, Scale) when <c>Uniform</c>, else N(0, Scale²).
    /// Every engine initializes through this, so they draw the same weights from the same seed.
    /// </summary>
    public (bool Uniform, double Scale) ScaledDistribution(int fanIn, int fanOut) => Kind switch
    {
        InitKind.XavierUniform => (true, A * Math.Sqrt(6.0 / Math.Max(1, fanIn + fanOut))),
        InitKind.XavierNormal => (false, A * Math.Sqrt(2.0 / Math.Max(1, fanIn + fanOut))),
        InitKind.HeUniform => (true, A * Math.Sqrt(3.0 / Math.Max(1, fanIn))),
        InitKind.HeNormal => (false, A / Math.Sqrt(Math.Max(1, fanIn))),
        InitKind.TorchDefault => (true, fanIn > 0 ? 1.0 / Math.Sqrt(fanIn) : 0),
        _ => throw new InvalidOperationException($"{Kind} is not a fan-scaled initializer."),
    };

    /// <summary>The same initializer with fans filled in (layers call this).</summary>
    public Initializer WithFans(int fanIn, int fanOut) => new(Kind, A, B, fanIn, fanOut);

    /// <summary>Stable text, e.g. "he_uniform(gain=1.4142135623730951, fan_in=784)".</summary>
    public override string ToString()
    {
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        return Kind switch
        {
            InitKind.Zeros => "zeros",
            InitKind.Constant => $"constant({F(A)})",
            InitKind.Uniform => $"uniform({F(A)}, {F(B)})",
            InitKind.Normal => $"normal(mean={F(A)}, std={F(B)})",
            InitKind.XavierUniform => $"xavier_uniform(gain={F(A)}, fan_in={FanIn}, fan_out={FanOut})",
            InitKind.XavierNormal => $"xavier_normal(gain={F(A)}, fan_in={FanIn}, fan_out={FanOut})",
            InitKind.HeUniform => $"he_uniform(gain={F(A)}, fan_in={FanIn})",
            InitKind.HeNormal => $"he_normal(gain={F(A)}, fan_in={FanIn})",
            _ => $"torch_default(fan_in={FanIn})",
        };
    }
}
