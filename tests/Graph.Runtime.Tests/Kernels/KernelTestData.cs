using System;
using System.Collections.Generic;
using Graph.Runtime.Kernels;

namespace Graph.Runtime.Tests.Kernels;

/// <summary>Random inputs, tolerances and the instruction-set levels this machine can run.</summary>
internal static class KernelTestData
{
    public static float[] Random(int length, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * scale;
        return values;
    }

    /// <summary>Every level up to the machine's best, for theories that must cover each kernel path.</summary>
    public static IEnumerable<object[]> SupportedIsas()
    {
        foreach (KernelIsa isa in Enum.GetValues<KernelIsa>())
            if (isa <= KernelIsaSelector.Best) yield return [isa];
    }

    /// <summary>
    /// Asserts |actual − expected| ≤ 1e-5·scale + 1e-6, where scale bounds the magnitude of the float sums
    /// (the sum of absolute values of the terms), so the check is tight whatever the size of the reduction.
    /// </summary>
    public static void AssertClose(double expected, double scale, float actual, string context)
    {
        double tolerance = 1e-5 * scale + 1e-6;
        if (!(Math.Abs(actual - expected) <= tolerance))
            Assert.Fail($"{context}: expected {expected} ± {tolerance:G3}, got {actual}");
    }

    /// <summary>Runs <paramref name="action"/> with kernel calls on this thread capped at <paramref name="isa"/>.</summary>
    public static void WithIsa(KernelIsa isa, Action action)
    {
        KernelIsaSelector.ForcedOnThisThread = isa;
        try { action(); }
        finally { KernelIsaSelector.ForcedOnThisThread = null; }
    }

    /// <summary>Runs <paramref name="action"/> with convolutions on this thread forced to <paramref name="algorithm"/> where it applies.</summary>
    public static void WithAlgorithm(Conv2dAlgorithm algorithm, Action action)
    {
        WithAlgorithm(algorithm, () => { action(); return 0; });
    }

    /// <summary>Evaluates <paramref name="function"/> with convolutions on this thread forced to <paramref name="algorithm"/> where it applies.</summary>
    public static T WithAlgorithm<T>(Conv2dAlgorithm algorithm, Func<T> function)
    {
        Conv2d.ForcedAlgorithmOnThisThread = algorithm;
        try { return function(); }
        finally { Conv2d.ForcedAlgorithmOnThisThread = null; }
    }
}
