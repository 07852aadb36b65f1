using System;
using System.Runtime.CompilerServices;
using Graph.Builder;
using Graph.Runtime.Models;

namespace Graph.Emit.Tests;

/// <summary>Checked mode: a NaN is reported with the node that produced it and the line that built it.</summary>
public class CheckedModeTests
{
    private static int Line([CallerLineNumber] int line = 0) => line;

    [Fact]
    public void Log_of_a_negative_input_names_the_log_node_and_its_source_line()
    {
        var m = new ModelBuilder("checked");
        var x = m.Input("x", 4);
        var t = m.Targets("t", 4);
        var h = x.Dense(4, "fc");
        int logLine = Line(); var logged = h.Log();
        var y = logged * 2.0;
        m.Output(y);
        m.Loss(y.MseLoss(t));
        var model = RoslynCompiler.Create<ISupervisedModel<float>>(
            RoslynCompiler.Compile(new[] { ModelEmitter.Emit(m, Models.Target("Checked")) }, "Checked"), "Generated.Models.Checked", 2);
        // fc = identity, bias 0: the first input is negative, so log gives NaN there.
        model.Parameter("fc.weight").Span.Clear();
        for (int i = 0; i < 4; i++) model.Parameter("fc.weight").Span[i * 4 + i] = 1;
        model.Parameter("fc.bias").Span.Clear();
        var input = new float[] { 1, 2, -3, 4, 1, 1, 1, 1 };
        var output = new float[8];

        model.Predict(input, 2, output);          // off by default: NaN flows through silently
        Assert.True(float.IsNaN(output[2]));

        model.CheckFinite = true;
        var e = Assert.Throws<NonFiniteValueException>(() => model.Predict(input, 2, output));
        Assert.Equal("log", e.Op);
        Assert.Equal("CheckedModeTests.cs", e.File);
        Assert.Equal(logLine, e.Line);
        Assert.Equal(2, e.Index);
        Assert.True(float.IsNaN(e.Value));
        Assert.Contains("= log(", e.Message);
        Assert.Contains($"CheckedModeTests.cs:{logLine}", e.Message);

        // The backward pass reports the same node when it meets the NaN first in the forward part of the step.
        var ex = Assert.Throws<NonFiniteValueException>(() => model.TrainStep(input, new float[8], 2));
        Assert.Equal(logLine, ex.Line);
    }

    [Fact]
    public void Checked_mode_costs_nothing_when_values_are_finite()
    {
        var m = new ModelBuilder("finite");
        var logits = m.Input("x", 3).Dense(3, "fc").Relu();
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(m.Labels("y", 3)));
        var model = RoslynCompiler.Create<ISupervisedModel<int>>(
            RoslynCompiler.Compile(new[] { ModelEmitter.Emit(m, Models.Target("Finite")) }, "Finite"), "Generated.Models.Finite", 4, seed: 1);
        model.CheckFinite = true;
        float loss = model.TrainStep(new float[] { 1, 2, 3, 4, 5, 6 }, new[] { 0, 2 }, 2);
        Assert.True(float.IsFinite(loss));
    }
}
