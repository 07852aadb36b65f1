using System;

namespace Graph.Runtime.Initialization;

/// <summary>Fan-in and fan-out of a weight tensor, as torch.nn.init._calculate_fan_in_and_fan_out.</summary>
public static class Fans
{
    /// <summary>
    /// Fans of a weight in PyTorch layout: [out, in] for a linear layer, [out, in, k1, k2, ...] for a
    /// convolution. fanIn = in·∏k, fanOut = out·∏k.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than two dimensions (PyTorch raises the same), or a negative dimension.</exception>
    public static (int FanIn, int FanOut) Compute(ReadOnlySpan<int> shape)
    {
        if (shape.Length < 2)
            throw new ArgumentException($"Fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (got {shape.Length}).", nameof(shape));
        long receptiveField = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < 0) throw new ArgumentException($"Dimension {i} is negative ({shape[i]}).", nameof(shape));
            if (i >= 2) receptiveField *= shape[i];
        }
        return (checked((int)(shape[1] * receptiveField)), checked((int)(shape[0] * receptiveField)));
    }

    /// <summary>
    /// Fans of a dense weight stored input-major, [in, out], as the graph IR stores it (y = x·W):
    /// fanIn = in, fanOut = out. PyTorch's [out, in] layout would give the opposite reading of the shape.
    /// </summary>
    /// <exception cref="ArgumentException">The shape is not two-dimensional.</exception>
    public static (int FanIn, int FanOut) ForInputMajorDense(ReadOnlySpan<int> shape)
    {
        if (shape.Length != 2)
            throw new ArgumentException($"An input-major dense weight has shape [in, out]; got {shape.Length} dimensions.", nameof(shape));
        return (shape[0], shape[1]);
    }
}
