using System.Collections.Generic;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;

namespace Graph.Ops;

/// <summary>
/// Matrix product of two rank-2 operands, either of which may be read transposed, so that the
/// backward pass maps straight onto the GEMM layouts (A·B, A·Bᵀ, Aᵀ·B) without transposing copies.
/// </summary>
public sealed class MatMulOp : Op
{
    /// <summary>Creates the op.</summary>
    public MatMulOp(bool transposeA, bool transposeB)
    {
        TransposeA = transposeA;
        TransposeB = transposeB;
    }

    /// <summary>Whether A is read as Aᵀ.</summary>
    public bool TransposeA { get; }

    /// <summary>Whether B is read as Bᵀ.</summary>
    public bool TransposeB { get; }

    /// <inheritdoc />
    public override string Name => "matmul";

    /// <inheritdoc />
    public override string Attributes => (TransposeA ? "tA" : "") + (TransposeA && TransposeB ? "," : "") + (TransposeB ? "tB" : "");

    /// <inheritdoc />
    public override TensorType InferType(IReadOnlyList<TensorType> inputs)
    {
        ExpectArity(inputs, 2);
        var a = inputs[0].Shape;
        var b = inputs[1].Shape;
        ExpectFloat(inputs[0], "left operand");
        ExpectFloat(inputs[1], "right operand");
        if (a.Rank != 2 || b.Rank != 2) throw new ShapeException($"operands must be matrices, got ranks {a.Rank} and {b.Rank}");
        int m = TransposeA ? a[1] : a[0], ka = TransposeA ? a[0] : a[1];
        int kb = TransposeB ? b[1] : b[0], n = TransposeB ? b[0] : b[1];
        if (ka != kb)
            throw new ShapeException($"inner dimensions differ: {Dim(ka)} (columns of {(TransposeA ? "Aᵀ" : "A")}) vs {Dim(kb)} (rows of {(TransposeB ? "Bᵀ" : "B")})");
        return new TensorType(inputs[0].DType, new Shape(m, n));
    }

    /// <inheritdoc />
    public override TensorValue Evaluate(IReadOnlyList<TensorValue> inputs, EvalContext context)
    {
        var a = inputs[0];
        var b = inputs[1];
        int m = TransposeA ? a.Dims[1] : a.Dims[0], k = TransposeA ? a.Dims[0] : a.Dims[1];
        int n = TransposeB ? b.Dims[0] : b.Dims[1];
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = TransposeA ? a.Data[p * m + i] : a.Data[i * k + p];
                    double bv = TransposeB ? b.Data[j * k + p] : b.Data[p * n + j];
                    sum += av * bv;
                }
                c[i * n + j] = sum;
            }
        return new TensorValue(new[] { m, n }, c);
    }

    /// <inheritdoc />
    public override Tensor?[] Vjp(VjpContext c)
    {
        var a = c.Inputs[0];
        var b = c.Inputs[1];
        var g = c.Gradient;
        // Each case is C = op(A)·op(B) differentiated and written in the layout that needs no copy.
        return (TransposeA, TransposeB) switch
        {
            (false, false) => new[] { g.MatMul(b, transposeB: true), a.MatMul(g, transposeA: true) },
            (false, true) => new[] { g.MatMul(b), g.MatMul(a, transposeA: true) },
            (true, false) => new[] { b.MatMul(g, transposeB: true), a.MatMul(g) },
            _ => new[] { b.MatMul(g, transposeA: true, transposeB: true), g.MatMul(a, transposeA: true, transposeB: true) },
        };
    }

    private static string Dim(int d) => d == Shape.Batch ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
