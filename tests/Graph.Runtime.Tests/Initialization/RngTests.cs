using System;
using System.Linq;
using Graph.Runtime.Initialization;

namespace Graph.Runtime.Tests.Initialization;

public class RngTests
{
    [Fact]
    public void MatchesIndependentXoshiro256StarStarWithSplitMix64Seeding()
    {
        // Computed with a separate Python transcription of the reference C code (prng.di.unimi.it).
        var rng = new Rng(42);
        Assert.Equal(0x15780b2e0c2ec716UL, rng.NextUInt64());
        Assert.Equal(0x6104d9866d113a7eUL, rng.NextUInt64());
        Assert.Equal(0xae17533239e499a1UL, rng.NextUInt64());
    }

    [Fact]
    public void SameSeedSameSequenceDifferentSeedDifferentSequence()
    {
        var a = new Rng(7);
        var b = new Rng(7);
        var c = new Rng(8);
        var sa = Enumerable.Range(0, 100).Select(_ => a.NextNormal()).ToArray();
        var sb = Enumerable.Range(0, 100).Select(_ => b.NextNormal()).ToArray();
        var sc = Enumerable.Range(0, 100).Select(_ => c.NextNormal()).ToArray();
        Assert.Equal(sa, sb);
        Assert.NotEqual(sa, sc);
    }

    [Fact]
    public void UniformFloatsHaveUniformMoments()
    {
        var rng = new Rng(1);
        const int n = 100_000;
        double sum = 0, sumSq = 0;
        for (int i = 0; i < n; i++)
        {
            float u = rng.NextFloat();
            Assert.InRange(u, 0f, 0.99999994f);
            sum += u;
            sumSq += u * (double)u;
        }
        double mean = sum / n, variance = sumSq / n - mean * mean;
        // Standard error of the mean is √(1/12/n) ≈ 0.0009; allow 5σ.
        Assert.Equal(0.5, mean, 0.005);
        Assert.Equal(1.0 / 12, variance, 0.002);
    }

    [Fact]
    public void NormalSamplesHaveStandardMoments()
    {
        var rng = new Rng(2);
        const int n = 100_000;
        double s1 = 0, s2 = 0, s4 = 0;
        for (int i = 0; i < n; i++)
        {
            double x = rng.NextNormal();
            s1 += x;
            s2 += x * x;
            s4 += x * x * x * x;
        }
        Assert.Equal(0, s1 / n, 0.02);      // SE 0.0032
        Assert.Equal(1, s2 / n, 0.02);      // SE 0.0045
        Assert.Equal(3, s4 / n, 0.15);      // kurtosis of a normal, SE ≈ 0.03
    }

    [Fact]
    public void NextIntIsInRangeAndEvenlySpread()
    {
        var rng = new Rng(3);
        var counts = new int[7];
        for (int i = 0; i < 70_000; i++) counts[rng.NextInt(7)]++;
        Assert.All(counts, c => Assert.InRange(c, 9_500, 10_500)); // expected 10 000, SD ≈ 93
        for (int i = 0; i < 1000; i++) Assert.InRange(rng.NextInt(-3, 4), -3, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => rng.NextInt(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => rng.NextInt(5, 5));
    }

    [Fact]
    public void NextUniformStaysInHalfOpenInterval()
    {
        var rng = new Rng(4);
        for (int i = 0; i < 10_000; i++)
        {
            float x = rng.NextUniform(-0.1f, 0.1f);
            Assert.True(x >= -0.1f && x < 0.1f);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(129)]
    public void FillUniformGivesTheSameValuesAndStateAsRepeatedNextUniform(int length)
    {
        var bulk = new Rng(9);
        var oneByOne = new Rng(9);
        _ = bulk.NextNormal(); // a pending spare normal must survive the bulk fill
        _ = oneByOne.NextNormal();
        var filled = new float[length];
        bulk.FillUniform(filled, -0.3f, 0.7f);
        var expected = Enumerable.Range(0, length).Select(_ => oneByOne.NextUniform(-0.3f, 0.7f)).ToArray();
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), filled.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(oneByOne.NextNormal(), bulk.NextNormal());
        Assert.Equal(oneByOne.NextUInt64(), bulk.NextUInt64());
    }

    [Fact]
    public void PortableLogAgreesWithMathLog()
    {
        var rng = new Rng(5);
        for (int i = 0; i < 10_000; i++)
        {
            double x = rng.NextDouble() + 1e-300;
            Assert.Equal(Math.Log(x), Rng.PortableLog(x), Math.Abs(Math.Log(x)) * 1e-15 + 1e-300);
        }
        Assert.Equal(Math.Log(double.Epsilon), Rng.PortableLog(double.Epsilon), 1e-12);
        Assert.Equal(0.0, Rng.PortableLog(1.0));
    }

    [Fact]
    public void ForkIsDeterministicAndIndependentOfParentContinuation()
    {
        var a = new Rng(9);
        var b = new Rng(9);
        Assert.Equal(a.Fork().NextUInt64(), b.Fork().NextUInt64());
        Assert.Equal(a.NextUInt64(), b.NextUInt64());
    }
}
