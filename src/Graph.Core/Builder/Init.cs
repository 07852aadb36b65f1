using System;
using Graph.Ir;

namespace Graph.Builder;

/// <summary>The initializers a parameter can name (PyTorch's torch.nn.init). Layers fill in the fans.</summary>
public static class Init
{
    /// <summary>All zeros.</summary>
    public static Initializer Zeros => new(InitKind.Zeros);
    /// <summary>All <paramref name="value"/>.</summary>
    public static Initializer Constant(double value) => new(InitKind.Constant, value);
    /// <summary>All ones.</summary>
    public static Initializer Ones => new(InitKind.Constant, 1);
    /// <summary>U(a, b).</summary>
    public static Initializer Uniform(double a = 0, double b = 1) => new(InitKind.Uniform, a, b);
    /// <summary>N(mean, std²).</summary>
    public static Initializer Normal(double mean = 0, double std = 1) => new(InitKind.Normal, mean, std);
    /// <summary>Glorot uniform: U(±gain·√(6/(fanIn+fanOut))).</summary>
    public static Initializer XavierUniform(double gain = 1) => new(InitKind.XavierUniform, gain);
    /// <summary>Glorot normal: N(0, gain²·2/(fanIn+fanOut)).</summary>
    public static Initializer XavierNormal(double gain = 1) => new(InitKind.XavierNormal, gain);
    /// <summary>He uniform (Kaiming, fan-in mode) with gain √2 by default (ReLU).</summary>
    public static Initializer HeUniform(double gain = 1.4142135623730951) => new(InitKind.HeUniform, gain);
    /// <summary>He normal (Kaiming, fan-in mode) with gain √2 by default (ReLU).</summary>
    public static Initializer HeNormal(double gain = 1.4142135623730951) => new(InitKind.HeNormal, gain);
    /// <summary>PyTorch's default for Linear and Conv weights and biases: U(±1/√fanIn).</summary>
    public static Initializer TorchDefault => new(InitKind.TorchDefault);

    /// <summary>Gain for leaky ReLU with negative slope <paramref name="slope"/>: √(2/(1+slope²)).</summary>
    public static double LeakyReluGain(double slope) => Math.Sqrt(2.0 / (1 + slope * slope));
}
