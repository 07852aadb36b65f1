using System;
using Graph.Runtime.Initialization;

namespace Graph.Runtime.Data;

/// <summary>Deterministic shuffling with a seeded <see cref="Rng"/>.</summary>
public static class Shuffling
{
    /// <summary>
    /// Shuffles in place with the Fisher–Yates (Durstenfeld) algorithm: for i from n−1 down to 1, swap
    /// item i with a uniformly chosen item in [0, i]. Every permutation is equally likely.
    /// </summary>
    public static void FisherYates<T>(Span<T> items, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A uniformly random permutation of 0..count−1.</summary>
    public static int[] Permutation(int count, Rng rng)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        FisherYates<int>(order, rng);
        return order;
    }
}
