using Graph;
using Graph.Builder;

namespace Examples.LinearRegression;

/// <summary>
/// Fits y = 3x + 0.5 with one dense unit (1 → 1) and mean squared error. The generator evaluates
/// <see cref="Define"/> at build time and adds the model's code to this class.
/// </summary>
[Model]
public partial class LinearRegressionModel
{
    static void Define(ModelBuilder m)
    {
        var x = m.Input("x", 1);
        var y = m.Targets("y", 1);
        var prediction = x.Dense(1, "linear");
        m.Output(prediction);
        m.Loss(prediction.MseLoss(y));
    }
}
