using Graph.Builder;
using Graph.Interpretation;
using Graph.Passes;

namespace Graph.Tests;

public class PrinterSnapshotTests
{
    internal static ModelBuilder Mlp()
    {
        var m = new ModelBuilder("mlp");
        var x = m.Input("x", 784);
        var y = m.Labels("y", classes: 10);
        var logits = x.Dense(128, "fc1").Relu().Dense(10, "fc2");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
        m.AddParameterGradients();
        return m;
    }

    [Fact]
    public void Mlp_forward_and_backward_graph_as_built() => Snapshot.Match(Mlp().Graph.ToString(), "mlp-784-128-10.built");

    [Fact]
    public void Mlp_forward_and_backward_graph_after_core_passes() =>
        Snapshot.Match(PassPipeline.Optimize(Mlp().Graph, Mode.Train, validate: true).ToString(), "mlp-784-128-10.optimized");

    [Fact]
    public void Printing_is_deterministic_across_builds() => Assert.Equal(Mlp().Graph.ToString(), Mlp().Graph.ToString());
}
