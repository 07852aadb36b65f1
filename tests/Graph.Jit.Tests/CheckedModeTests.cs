using System;
using System.Runtime.CompilerServices;
using Graph.Builder;
using Graph.Emit;
using Graph.Emit.Tests;
using Graph.Runtime.Models;

namespace Graph.Jit.Tests;

/// <summary>Checked mode in the JIT: the same checks, blame and messages as the generated C# (Graph.Emit.Tests' CheckedModeTests).</summary>
public class CheckedModeTests
{
    private static int Line([CallerLineNumber] int line = 0) => line;

    /// <summary>x → dense(4) → log → ·2, MSE loss; the line of the log op.</summary>
    private static (ModelBuilder Model, int LogLine) LogModel()
    {
        var m = new ModelBuilder("checked");
        var x = m.Input("x", 4);
        var t = m.Targets("t", 4);
        var h = x.Dense(4, "fc");
        int logLine = Line(); var logged = h.Log();
        var y = logged * 2.0;
        m.Output(y);
        m.Loss(y.MseLoss(t));
        return (m, logLine);
    }

    /// <summary>fc = identity, bias 0: the third input is negative, so log gives NaN there.</summary>
    private static void Identity(ISupervisedModel<float> model)
    {
        model.Parameter("fc.weight").Span.Clear();
        for (int i = 0; i < 4; i++) model.Parameter("fc.weight").Span[i * 4 + i] = 1;
        model.Parameter("fc.bias").Span.Clear();
    }

    private static readonly float[] s_input = { 1, 2, -3, 4, 1, 1, 1, 1 };

    private static ISupervisedModel<float> Generated(ModelBuilder m) =>
        RoslynCompiler.Create<ISupervisedModel<float>>(
            RoslynCompiler.Compile(new[] { ModelEmitter.Emit(m, Models.Target("CheckedJit")) }, "CheckedJit"), "Generated.Models.CheckedJit", 2);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Log_of_a_negative_input_names_the_log_node_and_its_source_line(bool methodPerKernel)
    {
        var (m, logLine) = LogModel();
        var model = GraphJit.CompileSupervised<float>(m, 2, options: new JitOptions { MethodPerKernel = methodPerKernel });
        Identity(model);
        var output = new float[8];

        Assert.False(model.CheckFinite);            // off by default: NaN flows through silently
        model.Predict(s_input, 2, output);
        Assert.True(float.IsNaN(output[2]));

        model.CheckFinite = true;
        Assert.True(model.CheckFinite);
        var e = Assert.Throws<NonFiniteValueException>(() => model.Predict(s_input, 2, output));
        Assert.Equal("log", e.Op);
        Assert.Equal("CheckedModeTests.cs", e.File);
        Assert.Equal(logLine, e.Line);
        Assert.Equal(2, e.Index);
        Assert.True(float.IsNaN(e.Value));
        Assert.Contains("= log(", e.Message);
        Assert.Contains($"CheckedModeTests.cs:{logLine}", e.Message);

        var ex = Assert.Throws<NonFiniteValueException>(() => model.TrainStep(s_input, new float[8], 2));
        Assert.Equal(logLine, ex.Line);

        model.CheckFinite = false;                  // and off again
        model.Predict(s_input, 2, output);
        Assert.True(float.IsNaN(output[2]));
    }

    [Fact]
    public void Jit_and_generated_code_report_the_same_node_with_the_same_message()
    {
        var (m, _) = LogModel();
        var jit = GraphJit.CompileSupervised<float>(m, 2);
        var gen = Generated(LogModel().Model);
        foreach (var model in new[] { jit, gen })
        {
            Identity(model);
            model.CheckFinite = true;
        }
        var output = new float[8];
        var j = Assert.Throws<NonFiniteValueException>(() => jit.Predict(s_input, 2, output));
        var g = Assert.Throws<NonFiniteValueException>(() => gen.Predict(s_input, 2, output));
        Assert.Equal(g.Message, j.Message);
        Assert.Equal((g.Node, g.Op, g.File, g.Line, g.Index), (j.Node, j.Op, j.File, j.Line, j.Index));

        var tj = Assert.Throws<NonFiniteValueException>(() => jit.TrainStep(s_input, new float[8], 2));
        var tg = Assert.Throws<NonFiniteValueException>(() => gen.TrainStep(s_input, new float[8], 2));
        Assert.Equal(tg.Message, tj.Message);
    }

    [Fact]
    public void Division_by_zero_in_a_fused_group_blames_the_div_in_both_backends()
    {
        static ModelBuilder Build()
        {
            var m = new ModelBuilder("divzero");
            var x = m.Input("x", 3);
            var y = (x / (x - x)).Relu() + 1.0;       // x - x = 0: x/0 = ±inf or NaN, fused with relu and add
            m.Output(y);
            m.Loss(y.MseLoss(m.Targets("t", 3)));     // (a model without a loss leaves _trainingSteps unassigned: CS0649 in the generated code)
            return m;
        }
        var jit = GraphJit.Compile(Build(), 2);
        var gen = RoslynCompiler.Create<ICompiledModel>(
            RoslynCompiler.Compile(new[] { ModelEmitter.Emit(Build(), Models.Target("DivZero")) }, "DivZero"), "Generated.Models.DivZero", 2);
        var input = new float[] { 1, 2, 3, 4, 5, 6 };
        var output = new float[6];
        foreach (var model in new[] { jit, gen })
        {
            input.CopyTo(model.InputBuffer("x"));
            model.Predict(2, output);                 // off: no exception
            model.CheckFinite = true;
        }
        var j = Assert.Throws<NonFiniteValueException>(() => jit.Predict(2, output));
        var g = Assert.Throws<NonFiniteValueException>(() => gen.Predict(2, output));
        Assert.Equal("div", j.Op);
        Assert.Equal(g.Message, j.Message);
    }

    [Fact]
    public void Finite_values_train_normally_in_checked_mode()
    {
        var m = new ModelBuilder("finite");
        var logits = m.Input("x", 3).Dense(3, "fc").Relu();
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(m.Labels("y", 3)));
        var model = GraphJit.CompileSupervised<int>(m, 4, seed: 1);
        model.CheckFinite = true;
        float loss = model.TrainStep(new float[] { 1, 2, 3, 4, 5, 6 }, new[] { 0, 2 }, 2);
        Assert.True(float.IsFinite(loss));
    }

    [Fact]
    public void The_interpreter_fallback_has_no_checked_mode()
    {
        var (m, _) = LogModel();
        var model = (IRuntimeCompiledModel)GraphJit.Compile(m, 2, options: new JitOptions { FallBackToInterpreter = true, SimulateNoDynamicCode = true });
        Assert.Equal(ModelEngine.Interpreter, model.Engine);
        Assert.False(model.CheckFinite);
        model.CheckFinite = false;
        Assert.Throws<NotSupportedException>(() => model.CheckFinite = true);
    }
}
