using Graph;
using Graph.Builder;

namespace RegressionExample;

/// <summary>Linear regression ŷ = w·x + b as a dense layer 1 → 1, trained on the mean squared error.</summary>
[Model]
public partial class LinearRegression
{
    static void Define(ModelBuilder m)
    {
        var x = m.Input("x", 1);
        var y = m.Targets("y", 1);
        var prediction = x.Dense(1, "linear");     // parameters "linear.weight" [1,1] and "linear.bias" [1]
        m.Output(prediction);
        m.Loss(prediction.MseLoss(y));
    }
}

/// <summary>
/// The linear unit (Widrow–Hoff ADALINE, the perceptron without its threshold) written with explicit
/// parameters: ŷ = x·w + b, trained on ½·mean((ŷ − y)²), whose gradient is the residual times the input.
/// </summary>
[Model]
public partial class LinearUnit
{
    static void Define(ModelBuilder m)
    {
        var x = m.Input("x", 1);
        var y = m.Targets("y", 1);
        var w = m.Parameter("w", new[] { 1, 1 }, Init.Zeros);
        var b = m.Parameter("b", new[] { 1 }, Init.Zeros);
        var prediction = x.MatMul(w) + b;
        m.Output(prediction);
        m.Loss(prediction.HalfMseLoss(y));
    }
}
