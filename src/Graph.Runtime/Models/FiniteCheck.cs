using System;

namespace Graph.Runtime.Models;

/// <summary>
/// A NaN or infinity produced by a graph node in checked mode. Names the node (in IR text), its op and
/// the user's source line that built it, and the first offending element.
/// </summary>
public sealed class NonFiniteValueException : ArithmeticException
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteValueException(string node, string op, string file, int line, int index, float value)
        : base($"Checked mode: {FormatValue(value)} at index {index} of {node} (op {op}), built at {(line > 0 ? file + ":" + line : "an unknown line")}.")
    {
        Node = node;
        Op = op;
        File = file;
        Line = line;
        Index = index;
        Value = value;
    }

    /// <summary>The node as IR text ("%12 : f32[N,10] = log(%11)").</summary>
    public string Node { get; }

    /// <summary>The node's op ("log").</summary>
    public string Op { get; }

    /// <summary>File name of the source line that built the op.</summary>
    public string File { get; }

    /// <summary>That line (0 when unknown).</summary>
    public int Line { get; }

    /// <summary>Index of the first non-finite element in the node's value.</summary>
    public int Index { get; }

    /// <summary>The value found there (NaN or ±infinity).</summary>
    public float Value { get; }

    private static string FormatValue(float value) => float.IsNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity";
}

/// <summary>The check generated code runs after each kernel when a model's <c>CheckFinite</c> is on.</summary>
public static class FiniteCheck
{
    /// <summary>Throws <see cref="NonFiniteValueException"/> at the first NaN or infinity of <paramref name="values"/>.</summary>
    public static void Check(ReadOnlySpan<float> values, string node, string op, string file, int line)
    {
        int index = System.Numerics.Tensors.TensorPrimitives.IndexOfMaxMagnitude(values);
        if (index < 0 || float.IsFinite(values[index]))
        {
            // IndexOfMaxMagnitude reports a NaN if there is one, otherwise the largest value: finite means all are.
            return;
        }
        throw new NonFiniteValueException(node, op, file, line, FirstNonFinite(values), values[FirstNonFinite(values)]);
    }

    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
