using System;

namespace Graph.Runtime.Initialization;

/// <summary>Non-linearities known to <see cref="Initializers.Gain"/> (torch.nn.init.calculate_gain).</summary>
public enum Nonlinearity
{
    /// <summary>Identity; gain 1 (also conv and sigmoid layers in PyTorch).</summary>
    Linear,
    /// <summary>Logistic sigmoid; gain 1.</summary>
    Sigmoid,
    /// <summary>Hyperbolic tangent; gain 5/3.</summary>
    Tanh,
    /// <summary>Rectifier; gain √2.</summary>
    Relu,
    /// <summary>Leaky rectifier with negative slope a; gain √(2/(1+a²)).</summary>
    LeakyRelu,
    /// <summary>SELU; gain 3/4 (PyTorch's choice for self-normalizing networks).</summary>
    Selu,
}

/// <summary>Which fan Kaiming initialization preserves the variance of.</summary>
public enum FanMode
{
    /// <summary>Preserve the variance of activations in the forward pass.</summary>
    FanIn,
    /// <summary>Preserve the variance of gradients in the backward pass.</summary>
    FanOut,
}

/// <summary>
/// Weight initializers with torch.nn.init's formulas, filling a span from a seeded <see cref="Rng"/>.
/// Fans are passed explicitly because the graph IR stores dense weights as [in, out]; use
/// <see cref="Fans.Compute"/> for PyTorch-layout shapes. The random streams differ from PyTorch's
/// (different generator), the distributions are the same.
/// </summary>
public static class Initializers
{
    /// <summary>Fills with <paramref name="value"/> (torch.nn.init.constant_).</summary>
    public static void Constant(Span<float> values, float value) => values.Fill(value);

    /// <summary>Fills with zeros (torch.nn.init.zeros_).</summary>
    public static void Zeros(Span<float> values) => values.Clear();

    /// <summary>Fills with ones (torch.nn.init.ones_).</summary>
    public static void Ones(Span<float> values) => values.Fill(1f);

    /// <summary>Samples U[<paramref name="low"/>, <paramref name="high"/>) (torch.nn.init.uniform_).</summary>
    /// <exception cref="ArgumentException"><paramref name="high"/> is less than <paramref name="low"/>.</exception>
    public static void Uniform(Span<float> values, float low, float high, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (!(high >= low)) throw new ArgumentException($"Uniform bounds must satisfy low <= high (got [{low}, {high}]).", nameof(high));
        rng.FillUniform(values, low, high);
    }

    /// <summary>Samples N(<paramref name="mean"/>, <paramref name="std"/>²) (torch.nn.init.normal_).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="std"/> is negative.</exception>
    public static void Normal(Span<float> values, float mean, float std, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegative(std);
        for (int i = 0; i < values.Length; i++) values[i] = (float)(mean + std * rng.NextNormal());
    }

    /// <summary>
    /// Samples N(mean, std²) restricted to [<paramref name="low"/>, <paramref name="high"/>] by rejection
    /// (torch.nn.init.trunc_normal_; its a, b are absolute bounds, default −2, 2). PyTorch uses the inverse
    /// CDF instead; the distribution is the same.
    /// </summary>
    /// <exception cref="ArgumentException">The interval is empty or holds almost no probability (under 1e-6).</exception>
    public static void TruncatedNormal(Span<float> values, float mean, float std, float low, float high, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfNegative(std);
        if (!(high > low)) throw new ArgumentException($"Truncation interval [{low}, {high}] is empty.", nameof(high));
        if (std == 0f)
        {
            if (mean < low || mean > high) throw new ArgumentException($"Mean {mean} lies outside [{low}, {high}] and std is 0.", nameof(mean));
            values.Fill(mean);
            return;
        }
        // Rejection is fast while the interval holds a fair share of the mass; refuse hopeless intervals.
        double mass = StandardNormalCdf((high - mean) / std) - StandardNormalCdf((low - mean) / std);
        if (mass < 1e-6) throw new ArgumentException($"Truncation interval [{low}, {high}] holds probability {mass:g3} of N({mean}, {std}²); rejection sampling would not finish.", nameof(low));
        for (int i = 0; i < values.Length; i++)
        {
            float sample;
            do sample = (float)(mean + std * rng.NextNormal());
            while (sample < low || sample > high);
            values[i] = sample;
        }
    }

    /// <summary>Recommended gain for a non-linearity (torch.nn.init.calculate_gain); <paramref name="negativeSlope"/> is used by LeakyRelu only (PyTorch default 0.01).</summary>
    public static float Gain(Nonlinearity nonlinearity, float negativeSlope = 0.01f) => nonlinearity switch
    {
        Nonlinearity.Linear or Nonlinearity.Sigmoid => 1f,
        Nonlinearity.Tanh => 5f / 3f,
        Nonlinearity.Relu => MathF.Sqrt(2f),
        Nonlinearity.LeakyRelu => (float)Math.Sqrt(2.0 / (1.0 + (double)negativeSlope * negativeSlope)),
        Nonlinearity.Selu => 0.75f,
        _ => throw new ArgumentOutOfRangeException(nameof(nonlinearity), nonlinearity, "Unknown non-linearity."),
    };

    /// <summary>Glorot/Xavier uniform: U(−a, a) with a = gain·√(6/(fanIn+fanOut)) (torch.nn.init.xavier_uniform_).</summary>
    public static void XavierUniform(Span<float> values, int fanIn, int fanOut, Rng rng, float gain = 1f)
    {
        float bound = (float)(gain * Math.Sqrt(6.0 / CheckedFanSum(fanIn, fanOut)));
        Uniform(values, -bound, bound, rng);
    }

    /// <summary>Glorot/Xavier normal: N(0, σ²) with σ = gain·√(2/(fanIn+fanOut)) (torch.nn.init.xavier_normal_).</summary>
    public static void XavierNormal(Span<float> values, int fanIn, int fanOut, Rng rng, float gain = 1f)
    {
        float std = (float)(gain * Math.Sqrt(2.0 / CheckedFanSum(fanIn, fanOut)));
        Normal(values, 0f, std, rng);
    }

    /// <summary>
    /// He/Kaiming uniform: U(−b, b) with b = √3·gain/√fan, gain = <see cref="Gain"/>(nonlinearity, a)
    /// (torch.nn.init.kaiming_uniform_; defaults a=0, fan_in, leaky_relu, which gives gain √2).
    /// </summary>
    public static void KaimingUniform(Span<float> values, int fanIn, int fanOut, Rng rng, float a = 0f,
        FanMode mode = FanMode.FanIn, Nonlinearity nonlinearity = Nonlinearity.LeakyRelu)
    {
        double std = KaimingStd(fanIn, fanOut, a, mode, nonlinearity);
        float bound = (float)(Math.Sqrt(3.0) * std);
        Uniform(values, -bound, bound, rng);
    }

    /// <summary>He/Kaiming normal: N(0, σ²) with σ = gain/√fan (torch.nn.init.kaiming_normal_, same defaults).</summary>
    public static void KaimingNormal(Span<float> values, int fanIn, int fanOut, Rng rng, float a = 0f,
        FanMode mode = FanMode.FanIn, Nonlinearity nonlinearity = Nonlinearity.LeakyRelu)
    {
        Normal(values, 0f, (float)KaimingStd(fanIn, fanOut, a, mode, nonlinearity), rng);
    }

    /// <summary>
    /// PyTorch's default initialization of nn.Linear and nn.ConvNd (reset_parameters): weights
    /// kaiming_uniform_(a=√5), which reduces to U(−1/√fanIn, 1/√fanIn), and the bias U(−1/√fanIn, 1/√fanIn)
    /// (zero bound when fanIn is 0). For a convolution fanIn = inChannels·kernelH·kernelW.
    /// </summary>
    /// <param name="weights">The weight tensor (any layout: only fanIn matters).</param>
    /// <param name="bias">The bias; may be empty for a layer without bias.</param>
    /// <param name="fanIn">Inputs per output unit.</param>
    /// <param name="rng">Random source: weights are drawn first, then the bias.</param>
    public static void PyTorchLayerDefault(Span<float> weights, Span<float> bias, int fanIn, Rng rng)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fanIn);
        float bound = fanIn > 0 ? (float)(1.0 / Math.Sqrt(fanIn)) : 0f;
        if (fanIn == 0 && !weights.IsEmpty)
            throw new ArgumentException("Weights of a layer with fanIn 0 cannot be initialized (PyTorch divides by zero here too).", nameof(fanIn));
        Uniform(weights, -bound, bound, rng);
        Uniform(bias, -bound, bound, rng);
    }

    private static double KaimingStd(int fanIn, int fanOut, float a, FanMode mode, Nonlinearity nonlinearity)
    {
        int fan = mode switch
        {
            FanMode.FanIn => fanIn,
            FanMode.FanOut => fanOut,
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown fan mode."),
        };
        if (fan <= 0) throw new ArgumentOutOfRangeException(mode == FanMode.FanIn ? nameof(fanIn) : nameof(fanOut), fan, "Kaiming initialization needs a positive fan.");
        return Gain(nonlinearity, a) / Math.Sqrt(fan);
    }

    private static long CheckedFanSum(int fanIn, int fanOut)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fanIn);
        ArgumentOutOfRangeException.ThrowIfNegative(fanOut);
        long sum = (long)fanIn + fanOut;
        if (sum == 0) throw new ArgumentException("Xavier initialization needs fanIn + fanOut > 0.", nameof(fanIn));
        return sum;
    }

    /// <summary>Φ(x) via erfc, Abramowitz–Stegun 7.1.26 (|error| &lt; 1.5e-7): enough to judge the truncation mass.</summary>
    private static double StandardNormalCdf(double x)
    {
        double z = Math.Abs(x) / Math.Sqrt(2.0);
        double t = 1.0 / (1.0 + 0.3275911 * z);
        double erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.Exp(-z * z);
        return x >= 0 ? 1.0 - 0.5 * erfc : 0.5 * erfc;
    }
}
