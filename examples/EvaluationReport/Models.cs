using Graph;
using Graph.Builder;

namespace EvaluationReportExample;

/// <summary>Softmax regression on MNIST: one dense layer 784 → 10.</summary>
[Model]
public partial class SoftmaxRegression
{
    static void Define(ModelBuilder m)
    {
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);
        var logits = x.Flatten().Dense(10, "fc");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
    }
}
