using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Graph.Runtime.Initialization;

/// <summary>
/// Seeded, reproducible pseudo-random generator: xoshiro256** (Blackman and Vigna) whose 256-bit
/// state is filled from the seed with splitmix64, as the xoshiro authors recommend.
/// </summary>
/// <remarks>
/// The same seed gives the same sequence on every platform and runtime: the integer generator is
/// pure 64-bit integer arithmetic, <see cref="NextFloat"/>/<see cref="NextDouble"/> are exact
/// conversions of the top bits, and <see cref="NextNormal()"/> uses the Marsaglia polar method with
/// a logarithm computed here from IEEE-754 basic operations only (no libm call whose last bit could
/// differ between operating systems). Not thread-safe: give each thread its own instance
/// (<see cref="Fork"/> derives independent generators deterministically). Not cryptographic.
/// </remarks>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spareNormal;
    private bool _hasSpareNormal;

    /// <summary>Creates a generator whose whole sequence is determined by <paramref name="seed"/>.</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
        // splitmix64 never yields four zero words from one seed, but keep the invariant explicit:
        // the all-zero state is the one fixed point of xoshiro.
        if ((_s0 | _s1 | _s2 | _s3) == 0) _s0 = 0x9E3779B97F4A7C15UL;
    }

    /// <summary>One step of splitmix64 (Steele, Lea, Flood), used to expand a 64-bit seed.</summary>
    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Next 64 uniformly distributed random bits (xoshiro256**).</summary>
    public ulong NextUInt64() => Step(ref _s0, ref _s1, ref _s2, ref _s3);

    /// <summary>One xoshiro256** step on a state passed by reference, so bulk loops can keep it in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Step(ref ulong s0, ref ulong s1, ref ulong s2, ref ulong s3)
    {
        ulong result = BitOperations.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = BitOperations.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Next 32 random bits (the high half of <see cref="NextUInt64"/>, the better-mixed bits).</summary>
    public uint NextUInt32() => (uint)(NextUInt64() >> 32);

    /// <summary>Uniform float in [0, 1): the top 24 bits scaled by 2^-24, so every value is exact.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1 << 24));

    /// <summary>Uniform double in [0, 1): the top 53 bits scaled by 2^-53.</summary>
    public double NextDouble() => UnitDouble(NextUInt64());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double UnitDouble(ulong bits) => (bits >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, <paramref name="maxExclusive"/>) without modulo bias (Lemire's method).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxExclusive"/> is not positive.</exception>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)NextBelow((ulong)maxExclusive);
    }

    /// <summary>Uniform integer in [<paramref name="minInclusive"/>, <paramref name="maxExclusive"/>).</summary>
    public int NextInt(int minInclusive, int maxExclusive)
    {
        if (maxExclusive <= minInclusive)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"maxExclusive ({maxExclusive}) must be greater than minInclusive ({minInclusive}).");
        return (int)(minInclusive + (long)NextBelow((ulong)((long)maxExclusive - minInclusive)));
    }

    /// <summary>Uniform in [0, range) for range &gt; 0: Lemire's multiply-shift with rejection of the biased low words.</summary>
    private ulong NextBelow(ulong range)
    {
        ulong product = Math.BigMul(NextUInt64(), range, out ulong low);
        if (low < range)
        {
            ulong threshold = (0UL - range) % range;
            while (low < threshold)
                product = Math.BigMul(NextUInt64(), range, out low);
        }
        return product;
    }

    /// <summary>Uniform float in [<paramref name="low"/>, <paramref name="high"/>) (computed in double, then rounded;
    /// a result that rounds up to <paramref name="high"/> is replaced by the float just below it).</summary>
    public float NextUniform(float low, float high) => Uniform(low, high, NextUInt64());

    /// <summary>
    /// Fills <paramref name="values"/> with <see cref="NextUniform"/> samples, in order: the same values and the same
    /// state afterwards as that many calls, with the state in locals (several times faster for millions of weights).
    /// </summary>
    public void FillUniform(Span<float> values, float low, float high)
    {
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        for (int i = 0; i < values.Length; i++) values[i] = Uniform(low, high, Step(ref s0, ref s1, ref s2, ref s3));
        (_s0, _s1, _s2, _s3) = (s0, s1, s2, s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Uniform(float low, float high, ulong bits)
    {
        float value = (float)(low + ((double)high - low) * UnitDouble(bits));
        return value >= high && high > low ? MathF.BitDecrement(high) : value;
    }

    /// <summary>Standard normal sample (mean 0, variance 1), Marsaglia polar method in double precision.
    /// Each accepted pair yields two samples; the second is returned by the next call.</summary>
    public double NextNormal()
    {
        if (_hasSpareNormal)
        {
            _hasSpareNormal = false;
            return _spareNormal;
        }
        double u, v, s;
        do
        {
            u = 2.0 * NextDouble() - 1.0;
            v = 2.0 * NextDouble() - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        double factor = Math.Sqrt(-2.0 * PortableLog(s) / s);
        _spareNormal = v * factor;
        _hasSpareNormal = true;
        return u * factor;
    }

    /// <summary>Normal sample with the given mean and standard deviation.</summary>
    public float NextNormal(float mean, float standardDeviation) => (float)(mean + standardDeviation * NextNormal());

    /// <summary>
    /// A new generator seeded from this one's next output: a deterministic way to give a worker,
    /// a data loader or an augmenter its own independent stream.
    /// </summary>
    public Rng Fork() => new(NextUInt64());

    /// <summary>
    /// Natural logarithm for x in (0, 1] from +, -, *, / and exponent manipulation only, so it rounds
    /// identically everywhere (Math.Log delegates to the C runtime, whose last bit may differ by OS).
    /// Accurate to a few ulp, far more than the float samples need.
    /// </summary>
    internal static double PortableLog(double x)
    {
        // x = m * 2^e with m in [sqrt(1/2), sqrt(2)); ln x = e ln 2 + 2 atanh((m-1)/(m+1)).
        long bits = BitConverter.DoubleToInt64Bits(x);
        int exponent = (int)((bits >> 52) & 0x7FF);
        if (exponent == 0)
        {
            // Subnormal: scale into the normal range first.
            x *= 18014398509481984.0; // 2^54
            bits = BitConverter.DoubleToInt64Bits(x);
            exponent = (int)((bits >> 52) & 0x7FF) - 54;
        }
        exponent -= 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m > 1.4142135623730951)
        {
            m *= 0.5;
            exponent++;
        }
        double s = (m - 1.0) / (m + 1.0);
        double s2 = s * s;
        // |s| <= 0.1716, so s^2 <= 0.0295: 12 odd terms of the atanh series reach double precision.
        double series = 1.0 / 23.0;
        series = series * s2 + 1.0 / 21.0;
        series = series * s2 + 1.0 / 19.0;
        series = series * s2 + 1.0 / 17.0;
        series = series * s2 + 1.0 / 15.0;
        series = series * s2 + 1.0 / 13.0;
        series = series * s2 + 1.0 / 11.0;
        series = series * s2 + 1.0 / 9.0;
        series = series * s2 + 1.0 / 7.0;
        series = series * s2 + 1.0 / 5.0;
        series = series * s2 + 1.0 / 3.0;
        series = series * s2 + 1.0;
        const double Ln2High = 6.93147180369123816490e-01; // ln 2 split so exponent * Ln2High is exact
        const double Ln2Low = 1.90821492927058770002e-10;
        return exponent * Ln2High + (2.0 * s * series + exponent * Ln2Low);
    }
}
