namespace Graph.Runtime.Kernels;

/// <summary>How a GEMM operand is stored relative to the matrix the product uses.</summary>
public enum Transpose
{
    /// <summary>The operand is stored as the matrix itself (row-major).</summary>
    None,
    /// <summary>The operand is stored as its transpose (row-major), i.e. the product reads it column by column.</summary>
    Transposed,
}
