using Graph;
using Graph.Builder;

namespace XorExample;

/// <summary>
/// The smallest network that computes XOR: 2 inputs → 2 tanh units → 1 sigmoid unit, trained on the
/// binary cross-entropy of the predicted probability. No single linear unit can separate XOR; two
/// hidden units can.
/// </summary>
[Model]
public partial class XorNet
{
    static void Define(ModelBuilder m)
    {
        var x = m.Input("x", 2);
        var y = m.Targets("y", 1);                                    // 0 or 1
        var hidden = x.Dense(2, "hidden", weightInit: Init.XavierUniform(gain: 5.0 / 3.0)).Tanh();
        var probability = hidden.Dense(1, "output", weightInit: Init.XavierUniform()).Sigmoid();
        m.Output(probability);
        m.Loss(probability.BinaryCrossEntropy(y));
    }
}
