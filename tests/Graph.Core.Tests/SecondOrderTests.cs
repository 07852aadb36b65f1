using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Builder;

namespace Graph.Tests;

/// <summary>
/// Gradients of gradients: each row builds g = ∂(Σ f(x)·W)/∂x in the graph, and the harness checks
/// ∂(Σ g·W')/∂x (a Hessian-vector product, symbolically) against finite differences of g.
/// </summary>
public class SecondOrderTests
{
    /// <summary>∂(Σ f(x)·W)/∂x with fixed random W; with <paramref name="other"/>, also mixes in ∂/∂other so cross terms are checked.</summary>
    private static Tensor FirstGradient(ModelBuilder m, Tensor x, Func<Tensor, Tensor> f, Tensor? other = null)
    {
        var y = f(x);
        var weights = m.Constant(GradientCheck.RandomValues(new Random(5), (int)y.Shape.ConstantSize, "w"), y.Shape.Dims);
        var loss = (y * weights).Sum();
        if (other is null) return m.Grad(loss, x)[0]!;
        var grads = m.Grad(loss, x, other);
        var otherWeights = m.Constant(GradientCheck.RandomValues(new Random(6), (int)other.Shape.ConstantSize, "w"), other.Shape.Dims);
        return grads[0]!.Sum() + (grads[1]! * otherWeights).Sum();
    }

    private static GradCase Unary(string name, Func<Tensor, Tensor> f, string leaf = "x") =>
        new("d2 " + name, m => FirstGradient(m, m.Parameter(leaf, new[] { 2, 3 }, Init.Zeros), f));

    public static readonly GradCase[] Cases =
    {
        Unary("neg", x => -x),
        Unary("exp", x => x.Exp()),
        Unary("log", x => x.Log(), "pos_x"),
        Unary("sqrt", x => x.Sqrt(), "pos_x"),
        Unary("abs", x => x.Abs()),
        Unary("relu", x => x.Relu()),
        Unary("leaky relu", x => x.LeakyRelu(0.2)),
        Unary("elu", x => x.Elu(0.8)),
        Unary("sigmoid", x => x.Sigmoid()),
        Unary("tanh", x => x.Tanh()),
        Unary("pow 3", x => x.Pow(3)),
        Unary("pow 1.5", x => x.Pow(1.5), "pos_x"),
        Unary("add", x => x + x.Square()),
        Unary("sub", x => 1.0 - x * x),
        Unary("mul", x => x * x.Sin2()),
        Unary("div", x => 1.0 / x, "pos_x"),
        Unary("pow tensor", x => x.Pow(x), "pos_x"),
        Unary("maximum", x => x.Maximum(x * 0.5 + 0.05).Square()),
        Unary("minimum", x => x.Minimum(x * 0.5 + 0.05).Square()),
        Unary("softmax", x => x.Softmax()),
        Unary("log softmax", x => x.LogSoftmax()),
        Unary("sum and mean", x => x.Sum(1).Square() + x.Mean(0).Exp().Sum()),
        new("d2 matmul", m =>
        {
            var a = m.Parameter("a", new[] { 3, 4 }, Init.Zeros);
            var b = m.Parameter("b", new[] { 4, 2 }, Init.Zeros);
            return FirstGradient(m, a, x => x.MatMul(b).Tanh(), b);
        }),
        new("d2 matmul transposed", m =>
        {
            var a = m.Parameter("a", new[] { 4, 3 }, Init.Zeros);
            var b = m.Parameter("b", new[] { 2, 4 }, Init.Zeros);
            return FirstGradient(m, a, x => x.MatMul(b, transposeA: true, transposeB: true).Sigmoid(), b);
        }),
        new("d2 mlp", m =>
        {
            var x = m.Parameter("x", new[] { 2, 3 }, Init.Zeros);
            var w = m.Parameter("w", new[] { 3, 3 }, Init.Zeros);
            return FirstGradient(m, w, ww => x.MatMul(ww).Tanh().MatMul(ww, transposeB: true).Sum(1).Square(), x);
        }),
    };

    public static IEnumerable<object[]> Rows => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Rows))]
    public void Gradient_of_gradient_matches_finite_differences(string name)
    {
        var result = GradientCheck.Run(Cases.Single(c => c.Name == name));
        Assert.True(result.WorstRelativeError < 1e-5, $"{name}: {result.WorstRelativeError:E3} on {result.WorstLeaf}\n{result.Graph}");
    }
}

internal static class TestTensorExtensions
{
    /// <summary>A smooth bounded function built from primitives (tanh²), for product rules.</summary>
    public static Tensor Sin2(this Tensor x) => x.Tanh().Square();
}
