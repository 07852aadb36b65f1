namespace Graph.Runtime.Models;

/// <summary>
/// The counter-based generator behind dropout masks, identical to the compiler's reference
/// (Graph.CounterRandom): mask[i] = Uniform(StreamKey(seed, stream, step), i) &lt; p ? 0 : 1/(1-p), so generated
/// code, the JIT and the interpreter draw the same masks.
/// </summary>
public static class DropoutRandom
{
    /// <summary>SplitMix64's finalizer.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The key of one dropout layer's stream at one training step.</summary>
    public static ulong StreamKey(ulong seed, ulong stream, long step) =>
        Mix(Mix(seed ^ 0x9E3779B97F4A7C15UL) ^ Mix(stream + 0x632BE59BD9B4E019UL) ^ (ulong)step * 0xD1B54A32D192ED03UL);

    /// <summary>A uniform float in [0, 1) for element <paramref name="index"/>.</summary>
    public static float Uniform(ulong streamKey, long index) =>
        (Mix(streamKey + (ulong)index * 0x9E3779B97F4A7C15UL) >> 40) * (1.0f / 16777216.0f);
}
