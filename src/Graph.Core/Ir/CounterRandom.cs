#if GRAPH_RUNTIME
namespace Graph.Runtime.Models;
#else
namespace Graph;
#endif

/// <summary>
/// A counter-based random function: the value at (seed, stream, step, index) is a pure hash,
/// so every engine (interpreter, generated C#, IL) draws identical dropout masks without
/// sharing generator state, in any loop order or thread split. This file is compiled into the
/// core (internal, for the interpreter) and linked into the runtime (public, for generated code), so there
/// is one definition.
/// </summary>
#if GRAPH_RUNTIME
public
#else
internal
#endif
static class CounterRandom
{
    /// <summary>SplitMix64's finalizer: a bijective 64-bit mix with good avalanche.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Key for one stream at one step; hoisted out of element loops.</summary>
    public static ulong StreamKey(ulong seed, ulong stream, long step) =>
        Mix(Mix(seed ^ 0x9E3779B97F4A7C15UL) ^ Mix(stream + 0x632BE59BD9B4E019UL) ^ (ulong)step * 0xD1B54A32D192ED03UL);

    /// <summary>A float in [0, 1) with 24 random bits (exactly representable in float32 and float64).</summary>
    public static float Uniform(ulong streamKey, long index) =>
        (Mix(streamKey + (ulong)index * 0x9E3779B97F4A7C15UL) >> 40) * (1.0f / 16777216.0f);
}
