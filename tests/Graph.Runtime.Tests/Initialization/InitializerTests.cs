using System;
using System.Linq;
using Graph.Runtime.Initialization;

namespace Graph.Runtime.Tests.Initialization;

public class InitializerTests
{
    private const int N = 100_000;

    private static (double Mean, double Variance, float Min, float Max) Stats(float[] v)
    {
        double mean = v.Average(x => (double)x);
        double variance = v.Average(x => (x - mean) * (x - mean));
        return (mean, variance, v.Min(), v.Max());
    }

    /// <summary>Checks mean and variance against their targets to 2% of σ and 3% of σ² (≈6σ of the estimators for 100k samples).</summary>
    private static void AssertMoments(float[] v, double mean, double variance)
    {
        var s = Stats(v);
        double std = Math.Sqrt(variance);
        Assert.True(Math.Abs(s.Mean - mean) < 0.02 * std, $"mean {s.Mean}, expected {mean}");
        Assert.True(Math.Abs(s.Variance - variance) < 0.03 * variance, $"variance {s.Variance}, expected {variance}");
    }

    [Fact]
    public void UniformHasBoundsAndMoments()
    {
        var v = new float[N];
        Initializers.Uniform(v, -2f, 3f, new Rng(1));
        var s = Stats(v);
        Assert.True(s.Min >= -2f && s.Max < 3f);
        Assert.True(s.Min < -1.99f && s.Max > 2.99f);
        AssertMoments(v, 0.5, 25.0 / 12);
    }

    [Fact]
    public void NormalHasMoments()
    {
        var v = new float[N];
        Initializers.Normal(v, 1.5f, 0.2f, new Rng(2));
        AssertMoments(v, 1.5, 0.04);
    }

    [Fact]
    public void XavierUniformBoundAndVariance()
    {
        // a = √(6/(fanIn+fanOut)) = √(6/300) ; Var = a²/3 = 2/(fanIn+fanOut).
        var v = new float[N];
        Initializers.XavierUniform(v, 100, 200, new Rng(3), gain: 2f);
        double bound = 2 * Math.Sqrt(6.0 / 300);
        var s = Stats(v);
        Assert.True(s.Min >= -bound && s.Max < bound);
        Assert.True(s.Max > 0.99 * bound);
        AssertMoments(v, 0, 4 * 2.0 / 300);
    }

    [Fact]
    public void XavierNormalVariance()
    {
        var v = new float[N];
        Initializers.XavierNormal(v, 30, 50, new Rng(4));
        AssertMoments(v, 0, 2.0 / 80);
    }

    [Fact]
    public void KaimingUniformDefaultIsReluGainOverFanIn()
    {
        // Default a=0, leaky_relu ⇒ gain √2, bound √3·√2/√fanIn = √(6/fanIn).
        var v = new float[N];
        Initializers.KaimingUniform(v, 64, 999, new Rng(5));
        double bound = Math.Sqrt(6.0 / 64);
        var s = Stats(v);
        Assert.True(s.Min >= -bound && s.Max < bound && s.Max > 0.99 * bound);
        AssertMoments(v, 0, 2.0 / 64);
    }

    [Fact]
    public void KaimingNormalFanOutAndLinearGain()
    {
        var v = new float[N];
        Initializers.KaimingNormal(v, 999, 25, new Rng(6), mode: FanMode.FanOut, nonlinearity: Nonlinearity.Linear);
        AssertMoments(v, 0, 1.0 / 25);
        Initializers.KaimingNormal(v, 50, 999, new Rng(7), a: 0.2f, nonlinearity: Nonlinearity.LeakyRelu);
        AssertMoments(v, 0, 2.0 / (1 + 0.04) / 50);
    }

    [Fact]
    public void KaimingUniformWithSqrt5IsPyTorchLayerDefault()
    {
        // nn.Linear: kaiming_uniform_(a=√5) ⇒ bound √3·√(2/6)/√fanIn = 1/√fanIn.
        var viaKaiming = new float[1000];
        var viaDefault = new float[1000];
        var bias = new float[10];
        Initializers.KaimingUniform(viaKaiming, 49, 10, new Rng(8), a: MathF.Sqrt(5f));
        Initializers.PyTorchLayerDefault(viaDefault, bias, 49, new Rng(8));
        for (int i = 0; i < viaKaiming.Length; i++) Assert.Equal(viaKaiming[i], viaDefault[i], 1e-6);
        Assert.All(viaDefault, x => Assert.InRange(x, -1f / 7, 1f / 7));
        Assert.All(bias, x => Assert.InRange(x, -1f / 7, 1f / 7));
        Assert.Contains(bias, x => x != 0f);
    }

    [Fact]
    public void GainsMatchCalculateGain()
    {
        Assert.Equal(1f, Initializers.Gain(Nonlinearity.Linear));
        Assert.Equal(1f, Initializers.Gain(Nonlinearity.Sigmoid));
        Assert.Equal(5f / 3f, Initializers.Gain(Nonlinearity.Tanh));
        Assert.Equal(MathF.Sqrt(2), Initializers.Gain(Nonlinearity.Relu));
        Assert.Equal(Math.Sqrt(2 / (1 + 0.01 * 0.01)), Initializers.Gain(Nonlinearity.LeakyRelu), 6);
        Assert.Equal(Math.Sqrt(2 / 1.04), Initializers.Gain(Nonlinearity.LeakyRelu, 0.2f), 6);
        Assert.Equal(0.75f, Initializers.Gain(Nonlinearity.Selu));
    }

    [Fact]
    public void TruncatedNormalStaysInsideAndIsSymmetric()
    {
        var v = new float[N];
        Initializers.TruncatedNormal(v, 0f, 1f, -1f, 1f, new Rng(9));
        var s = Stats(v);
        Assert.True(s.Min >= -1f && s.Max <= 1f);
        // Variance of N(0,1) truncated to [−1, 1]: 1 − 2φ(1)/(2Φ(1) − 1) = 0.2911.
        AssertMoments(v, 0, 1 - 2 * 0.24197072451914337 / 0.6826894921370859);
        Assert.Throws<ArgumentException>(() => Initializers.TruncatedNormal(v, 0f, 1f, 10f, 11f, new Rng(1)));
    }

    [Fact]
    public void ZerosOnesConstant()
    {
        var v = new float[5] { 1, 2, 3, 4, 5 };
        Initializers.Zeros(v);
        Assert.All(v, x => Assert.Equal(0f, x));
        Initializers.Ones(v);
        Assert.All(v, x => Assert.Equal(1f, x));
        Initializers.Constant(v, 0.25f);
        Assert.All(v, x => Assert.Equal(0.25f, x));
    }

    [Fact]
    public void SameSeedReproducesWeights()
    {
        var a = new float[100];
        var b = new float[100];
        Initializers.XavierNormal(a, 10, 10, new Rng(123));
        Initializers.XavierNormal(b, 10, 10, new Rng(123));
        Assert.Equal(a, b);
    }

    [Fact]
    public void FansFollowPyTorchForLinearAndConvShapes()
    {
        Assert.Equal((784, 128), Fans.Compute([128, 784]));
        Assert.Equal((3 * 5 * 5, 16 * 5 * 5), Fans.Compute([16, 3, 5, 5]));
        Assert.Equal((4 * 3, 8 * 3), Fans.Compute([8, 4, 3]));
        Assert.Equal((784, 128), Fans.ForInputMajorDense([784, 128]));
        Assert.Throws<ArgumentException>(() => Fans.Compute([10]));
        Assert.Throws<ArgumentException>(() => Fans.ForInputMajorDense([1, 2, 3]));
    }

    [Fact]
    public void InvalidArgumentsThrow()
    {
        var v = new float[4];
        Assert.Throws<ArgumentException>(() => Initializers.Uniform(v, 1f, 0f, new Rng(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Initializers.Normal(v, 0f, -1f, new Rng(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Initializers.KaimingUniform(v, 0, 3, new Rng(1)));
        Assert.Throws<ArgumentException>(() => Initializers.XavierUniform(v, 0, 0, new Rng(1)));
    }
}
