using System;
using System.Numerics.Tensors;

namespace Graph.Runtime.Kernels;

/// <summary>
/// Post-processing fused into a kernel's output pass. Kernels take the epilogue as a struct type parameter,
/// so the JIT specializes each kernel for it and inlines <see cref="Apply"/>: an empty epilogue costs nothing.
/// </summary>
public interface IEpilogue
{
    /// <summary>
    /// Transforms, in place, a finished run of output elements <c>c[row, col .. col + values.Length)</c>, which are
    /// contiguous in memory. Called once per element, after its accumulation is complete and while it is still hot
    /// in cache. Runs may be called from several worker threads at once (on disjoint elements) and in any order.
    /// </summary>
    /// <param name="values">The output elements, read and written in place.</param>
    /// <param name="row">Row index of the first element in the full output matrix.</param>
    /// <param name="col">Column index of the first element in the full output matrix.</param>
    void Apply(Span<float> values, int row, int col);
}

/// <summary>An epilogue that leaves the output as it is.</summary>
public readonly struct NoEpilogue : IEpilogue
{
    /// <inheritdoc />
    public void Apply(Span<float> values, int row, int col) { }
}

/// <summary>Adds a bias per column: <c>c[r, j] += bias[j]</c> (dense layers, where columns are output features).</summary>
/// <param name="bias">One value per output column; the array is referenced, not copied.</param>
public readonly struct BiasColumnsEpilogue(float[] bias) : IEpilogue
{
    private readonly float[] _bias = bias ?? throw new ArgumentNullException(nameof(bias));

    /// <inheritdoc />
    public void Apply(Span<float> values, int row, int col) =>
        TensorPrimitives.Add(values, _bias.AsSpan(col, values.Length), values);
}

/// <summary>Adds a bias per row: <c>c[r, j] += bias[r]</c> (convolutions through im2col, where rows are output channels).</summary>
/// <param name="bias">One value per output row; the array is referenced, not copied.</param>
public readonly struct BiasRowsEpilogue(float[] bias) : IEpilogue
{
    private readonly float[] _bias = bias ?? throw new ArgumentNullException(nameof(bias));

    /// <inheritdoc />
    public void Apply(Span<float> values, int row, int col) =>
        TensorPrimitives.Add(values, _bias[row], values);
}

/// <summary>Adds a bias per column, then applies ReLU: <c>c[r, j] = max(c[r, j] + bias[j], 0)</c>.</summary>
/// <param name="bias">One value per output column; the array is referenced, not copied.</param>
public readonly struct BiasColumnsReluEpilogue(float[] bias) : IEpilogue
{
    private readonly float[] _bias = bias ?? throw new ArgumentNullException(nameof(bias));

    /// <inheritdoc />
    public void Apply(Span<float> values, int row, int col)
    {
        TensorPrimitives.Add(values, _bias.AsSpan(col, values.Length), values);
        TensorPrimitives.Max(values, 0f, values);
    }
}

/// <summary>Adds a bias per row, then applies ReLU: <c>c[r, j] = max(c[r, j] + bias[r], 0)</c>.</summary>
/// <param name="bias">One value per output row; the array is referenced, not copied.</param>
public readonly struct BiasRowsReluEpilogue(float[] bias) : IEpilogue
{
    private readonly float[] _bias = bias ?? throw new ArgumentNullException(nameof(bias));

    /// <inheritdoc />
    public void Apply(Span<float> values, int row, int col)
    {
        TensorPrimitives.Add(values, _bias[row], values);
        TensorPrimitives.Max(values, 0f, values);
    }
}
