using System;

namespace Graph.Runtime.Data;

/// <summary>One-hot encoding of class labels.</summary>
public static class OneHot
{
    /// <summary>Writes labels.Length rows of <paramref name="classCount"/> floats: 1 at the label, 0 elsewhere.</summary>
    /// <exception cref="ArgumentException">The destination is too small or a label is out of range.</exception>
    public static void Encode(ReadOnlySpan<int> labels, int classCount, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        long needed = (long)labels.Length * classCount;
        if (destination.Length < needed)
            throw new ArgumentException($"One-hot encoding {labels.Length} labels of {classCount} classes needs {needed} floats; the destination has {destination.Length}.", nameof(destination));
        destination.Slice(0, (int)needed).Clear();
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
                throw new ArgumentException($"Label {labels[i]} at position {i} is outside [0, {classCount}).", nameof(labels));
            destination[i * classCount + labels[i]] = 1f;
        }
    }

    /// <summary>Allocating form of <see cref="Encode(ReadOnlySpan{int}, int, Span{float})"/>.</summary>
    public static float[] Encode(ReadOnlySpan<int> labels, int classCount)
    {
        var result = new float[(long)labels.Length * classCount];
        Encode(labels, classCount, result);
        return result;
    }
}
