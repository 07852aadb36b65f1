using Graph.Builder;

namespace Graph.Emit.Tests;

/// <summary>The models of the snapshot and end-to-end tests.</summary>
public static class Models
{
    public static ModelBuilder LinearRegression()
    {
        var m = new ModelBuilder("linear_regression");
        var x = m.Input("x", 1);
        var t = m.Targets("t", 1);
        var y = x.Dense(1, "fc");
        m.Output(y);
        m.Loss(y.MseLoss(t));
        return m;
    }

    public static ModelBuilder Mlp()
    {
        var m = new ModelBuilder("mlp");
        var x = m.Input("x", 784);
        var y = m.Labels("y", classes: 10);
        var logits = x.Dense(128, "fc1").Relu().Dense(10, "fc2");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
        return m;
    }

    public static ModelBuilder LeNet()
    {
        var m = new ModelBuilder("lenet");
        var x = m.Input("x", 1, 28, 28);
        var y = m.Labels("y", classes: 10);
        var h = x.Conv2d(64, 3, padding: 1, name: "conv1").Relu().MaxPool2d(2);
        h = h.Conv2d(128, 3, padding: 1, name: "conv2").Relu().MaxPool2d(2);
        var logits = h.Flatten().Dense(256, "fc1").Relu().Dense(10, "fc2");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(y));
        return m;
    }

    public static EmitTarget Target(string className) => new("Generated.Models", className, "public", System.Array.Empty<string>());
}
