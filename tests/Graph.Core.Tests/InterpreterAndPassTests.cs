using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Ops;
using Graph.Passes;

namespace Graph.Tests;

public class InterpreterAndPassTests
{
    private static TensorValue V(int[] dims, params double[] data) => new(dims, data);

    [Fact]
    public void Dense_layer_matches_a_hand_computation()
    {
        var m = new ModelBuilder();
        var y = m.Input("x", 2).Dense(2, "fc", bias: true);
        m.Output(y);
        var result = Interpreter.Run(m.Graph, new Dictionary<string, TensorValue>
        {
            ["x"] = V(new[] { 1, 2 }, 1, 2),
            ["fc.weight"] = V(new[] { 2, 2 }, 1, 2, 3, 4),
            ["fc.bias"] = V(new[] { 2 }, 0.5, -0.5),
        });
        Assert.Equal(new[] { 1 + 6 + 0.5, 2 + 8 - 0.5 }, result["output"].Data);
    }

    [Fact]
    public void Softmax_cross_entropy_matches_closed_form()
    {
        var m = new ModelBuilder();
        var x = m.Input("x", 3);
        m.Loss(x.SoftmaxCrossEntropy(m.Labels("y", 3)));
        var logits = new[] { 1.0, 2.0, 3.0, 0.0, 0.0, 0.0 };
        var loss = Interpreter.Run(m.Graph, new Dictionary<string, TensorValue>
        {
            ["x"] = V(new[] { 2, 3 }, logits),
            ["y"] = V(new[] { 2 }, 2, 0),
        })["loss"].Data[0];
        double lse = Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3));
        Assert.Equal(((lse - 3) + Math.Log(3)) / 2, loss, 12);
    }

    [Fact]
    public void Float32_precision_rounds_every_value()
    {
        var m = new ModelBuilder();
        m.Output(m.Input("x", 1) * (1.0 / 3.0));
        var feeds = new Dictionary<string, TensorValue> { ["x"] = V(new[] { 1, 1 }, 1) };
        Assert.Equal(1.0 / 3.0, Interpreter.Run(m.Graph, feeds)["output"].Data[0]);
        Assert.Equal((double)(float)(1.0 / 3.0), Interpreter.Run(m.Graph, feeds, precision: Precision.Float32)["output"].Data[0]);
    }

    [Fact]
    public void Feeds_are_checked_by_name_and_shape()
    {
        var m = new ModelBuilder();
        m.Output(m.Input("x", 3) + m.Input("y", 3));
        var bad = new Dictionary<string, TensorValue> { ["x"] = V(new[] { 2, 3 }, new double[6]) };
        Assert.Contains("No value was fed for input 'y'", Assert.Throws<ArgumentException>(() => Interpreter.Run(m.Graph, bad)).Message);
        bad["y"] = V(new[] { 3, 3 }, new double[9]);
        Assert.Contains("has batch size 3, but other inputs have 2", Assert.Throws<ArgumentException>(() => Interpreter.Run(m.Graph, bad)).Message);
        bad["y"] = V(new[] { 2, 4 }, new double[8]);
        Assert.Contains("expects shape [2,3], got [2,4]", Assert.Throws<ArgumentException>(() => Interpreter.Run(m.Graph, bad)).Message);
    }

    [Fact]
    public void Label_out_of_range_is_a_clear_error()
    {
        var m = new ModelBuilder();
        m.Loss(m.Input("x", 3).SoftmaxCrossEntropy(m.Labels("y", 3)));
        var feeds = new Dictionary<string, TensorValue> { ["x"] = V(new[] { 1, 3 }, 0, 0, 0), ["y"] = V(new[] { 1 }, 7) };
        Assert.Contains("Label 7 at index 0 is outside [0, 3)", Assert.Throws<ArgumentException>(() => Interpreter.Run(m.Graph, feeds)).Message);
    }

    [Fact]
    public void Dropout_keeps_the_expected_fraction_and_differs_per_step()
    {
        var m = new ModelBuilder();
        m.Output(m.Input("x", 1000).Dropout(0.25));
        var feeds = new Dictionary<string, TensorValue> { ["x"] = V(new[] { 4, 1000 }, Enumerable.Repeat(1.0, 4000).ToArray()) };
        var step1 = Interpreter.Run(m.Graph, feeds, Mode.Train, seed: 1, step: 1)["output"].Data;
        var step2 = Interpreter.Run(m.Graph, feeds, Mode.Train, seed: 1, step: 2)["output"].Data;
        double kept = step1.Count(v => v != 0) / 4000.0;
        Assert.InRange(kept, 0.72, 0.78);
        Assert.All(step1, v => Assert.True(v == 0 || Math.Abs(v - 1 / 0.75) < 1e-12));
        Assert.NotEqual(step1, step2);
        Assert.Equal(step1, Interpreter.Run(m.Graph, feeds, Mode.Train, seed: 1, step: 1)["output"].Data);
        Assert.All(Interpreter.Run(m.Graph, feeds, Mode.Eval)["output"].Data, v => Assert.Equal(1.0, v));
    }

    [Fact]
    public void Batch_norm_updates_running_statistics_like_pytorch()
    {
        var m = new ModelBuilder();
        m.Output(m.Input("x", 1).BatchNorm("bn", momentum: 0.1));
        var feeds = new Dictionary<string, TensorValue>
        {
            ["x"] = V(new[] { 4, 1 }, 1, 2, 3, 6),
            ["bn.weight"] = V(new[] { 1 }, 1), ["bn.bias"] = V(new[] { 1 }, 0),
            ["bn.running_mean"] = V(new[] { 1 }, 0), ["bn.running_var"] = V(new[] { 1 }, 1),
        };
        var result = Interpreter.Run(m.Graph, feeds, Mode.Train);
        // mean 3, biased var 3.5, unbiased var 14/3.
        Assert.Equal(0.1 * 3, result["state:bn.running_mean"].Data[0], 12);
        Assert.Equal(0.9 + 0.1 * 14.0 / 3, result["state:bn.running_var"].Data[0], 12);
        Assert.Equal((1 - 3) / Math.Sqrt(3.5 + 1e-5), result["output"].Data[0], 12);
        var eval = Interpreter.Run(m.Graph, feeds, Mode.Eval)["output"].Data;
        Assert.Equal(1 / Math.Sqrt(1 + 1e-5), eval[0], 12);
    }

    [Fact]
    public void Cse_merges_equal_subexpressions_and_dce_drops_dead_ones()
    {
        var m = new ModelBuilder();
        var x = m.Input("x", 3);
        var a = x.Exp() + 1.0;
        var b = x.Exp() + 1.0;
        _ = x.Tanh();
        m.Output(a * b);
        var optimized = PassPipeline.Optimize(m.Graph, validate: true);
        Assert.Equal(1, optimized.Nodes.Count(n => n.Op is ExpOp));
        Assert.DoesNotContain(optimized.Nodes, n => n.Op is TanhOp);
    }

    [Fact]
    public void Reshape_chains_of_a_single_value_may_lower_the_rank()
    {
        // Found by the engine-differential fuzzer: batch norm over one channel reshapes a [1,1,1,1] statistic to [1];
        // simplification collapsed reshape(reshape(v)) into a broadcast of v, which cannot lower the rank.
        var m = new ModelBuilder();
        var x = m.Input("x", 2);
        var v = m.Parameter("v", new[] { 1, 1, 1, 1 }, Init.Ones);
        var y = x * v.Reshape(new[] { 1, 1 }).Reshape(new[] { 1 });
        m.Output(y);
        m.Loss(y.Sum());
        m.AddParameterGradients();
        var optimized = PassPipeline.Optimize(m.Graph, validate: true);
        var feeds = new Dictionary<string, TensorValue>
        {
            ["x"] = new TensorValue(new[] { 2, 2 }, new[] { 1.0, 2.0, 3.0, 4.0 }),
            ["v"] = new TensorValue(new[] { 1, 1, 1, 1 }, new[] { 0.5 }),
        };
        var expected = Interpreter.Run(m.Graph, feeds);
        var actual = Interpreter.Run(optimized, feeds);
        foreach (var name in new[] { "output", "loss", "grad:v" })
            Assert.Equal(expected[name].Data, actual[name].Data);
    }

    [Fact]
    public void Cse_keeps_a_large_constant_apart_from_its_negation()
    {
        // Found by the engine-differential fuzzer: the content hash of large constants ignored an even number of
        // sign flips, so CSE merged folded −c with c and d(w1 − w0)/dw0 came out with the wrong sign.
        var c = new[] { 1.0, 2, 3, 4, 5, 6 };
        var m = new ModelBuilder();
        var w0 = m.Parameter("w0", new[] { 1, 6 }, Init.Zeros);
        var w1 = m.Parameter("w1", new[] { 1, 1 }, Init.Zeros);
        m.Loss(((w1 - w0) * m.Constant(c, new[] { 1, 6 })).Sum());
        m.AddParameterGradients();
        var optimized = PassPipeline.Optimize(m.Graph, Mode.Train, validate: true);
        var feeds = new Dictionary<string, TensorValue>
        {
            ["w0"] = TensorValue.Zeros(new[] { 1, 6 }),
            ["w1"] = TensorValue.Zeros(new[] { 1, 1 }),
        };
        Assert.Equal(c.Select(v => -v).ToArray(), Interpreter.Run(optimized, feeds)["grad:w0"].Data);
        Assert.NotEqual(new ConstantOp(new TensorValue(new[] { 6 }, c)).Key, new ConstantOp(new TensorValue(new[] { 6 }, c.Select(v => -v).ToArray())).Key);
    }

    [Fact]
    public void A_batch_free_constant_reshaped_into_a_batch_shape_simplifies()
    {
        // Found by the engine-differential fuzzer: the gradient of reshape([N,1] → [N,1,1,1]) broadcasts a [1,1,1]
        // constant to [N,1,1,1] and reshapes it to [N,1]; simplification tried to broadcast [1,1,1] to [N,1].
        var m = new ModelBuilder();
        var x = m.Input("x", 1);
        var w = m.Parameter("w", new[] { 1, 1 }, Init.Ones);
        var h = x.MatMul(w);
        m.Loss((h.Reshape(new[] { -1, 1, 1, 1 }) * m.Constant(new[] { -0.5 }, new[] { 1, 1, 1 })).Sum() + (h * 0.25).Sum());
        m.AddParameterGradients();
        var optimized = PassPipeline.Optimize(m.Graph, Mode.Train, validate: true);
        var feeds = new Dictionary<string, TensorValue>
        {
            ["x"] = new TensorValue(new[] { 2, 1 }, new[] { 1.0, 3.0 }),
            ["w"] = new TensorValue(new[] { 1, 1 }, new[] { 2.0 }),
        };
        Assert.Equal(Interpreter.Run(m.Graph, feeds)["grad:w"].Data, Interpreter.Run(optimized, feeds)["grad:w"].Data);
    }

    [Fact]
    public void A_single_value_broadcast_to_a_larger_shape_stays_a_broadcast()
    {
        // Found by the engine-differential fuzzer (a first fix of the test above reshaped a [1,1] root to [2]).
        var m = new ModelBuilder();
        var x = m.Input("x", 1);
        var w = m.Parameter("w", new[] { 2 }, Init.Ones);
        m.Loss((x / w.Sum(0, keepDims: true)).Sum() + (x * 0.5).Sum());
        m.AddParameterGradients();
        var optimized = PassPipeline.Optimize(m.Graph, Mode.Train, validate: true);
        var feeds = new Dictionary<string, TensorValue>
        {
            ["x"] = new TensorValue(new[] { 1, 1 }, new[] { 1.5 }),
            ["w"] = new TensorValue(new[] { 2 }, new[] { 0.5, 1.25 }),
        };
        Assert.Equal(Interpreter.Run(m.Graph, feeds)["grad:w"].Data, Interpreter.Run(optimized, feeds)["grad:w"].Data);
    }

    [Fact]
    public void Batch_norm_over_one_channel_optimizes_in_both_modes()
    {
        var m = new ModelBuilder();
        var x = m.Input("x", new[] { 1, 1, 2 });
        var y = x.BatchNorm("bn");
        m.Output(y);
        m.Loss(y.Square().Sum());
        m.AddParameterGradients();
        foreach (var mode in new[] { Mode.Train, Mode.Eval })
            PassPipeline.Optimize(m.Graph, mode, validate: true);
    }

    [Fact]
    public void Constants_fold_and_identities_simplify()
    {
        var m = new ModelBuilder();
        var x = m.Input("x", 3);
        var scale = m.Constant(2.0) * m.Constant(3.0) - 5.0;
        m.Output(-(-(x * scale + 0.0)));
        var optimized = PassPipeline.Optimize(m.Graph, validate: true);
        Assert.Equal("graph model\n  input  %x : f32[N,3]\n  out output = %x\n", optimized.ToString());
    }

    [Fact]
    public void Eval_specialization_removes_training_only_work()
    {
        var m = new ModelBuilder();
        var y = m.Input("x", 4).BatchNorm("bn").Dropout(0.5);
        m.Output(y);
        m.Loss(y.Sum());
        m.AddParameterGradients();
        var eval = PassPipeline.Optimize(m.Graph, Mode.Eval, validate: true);
        Assert.DoesNotContain(eval.Nodes, n => n.Op is DropoutMaskOp or ModeSelectOp);
        Assert.DoesNotContain(eval.Outputs, o => o.Role == OutputRole.StateUpdate);
        var train = PassPipeline.Optimize(m.Graph, Mode.Train, validate: true);
        Assert.Contains(train.Nodes, n => n.Op is DropoutMaskOp);
        Assert.Equal(2, train.Outputs.Count(o => o.Role == OutputRole.StateUpdate));
    }

    [Fact]
    public void Validator_reports_a_broken_invariant()
    {
        var m = new ModelBuilder();
        var x = m.Input("x", 3);
        m.Loss(x.Sum());
        m.Graph.SetOutput(new GraphOutput("grad:x", x.Node, OutputRole.Gradient, "missing"));
        var e = Assert.Throws<InvalidOperationException>(() => Validator.Validate(m.Graph));
        Assert.Contains("targets unknown 'missing'", e.Message);
    }

    [Fact]
    public void Gradients_of_unused_parameters_are_zero_outputs()
    {
        var m = new ModelBuilder();
        var x = m.Input("x", 2);
        m.Parameter("unused", new[] { 2 }, Init.Zeros);
        m.Loss(x.Dense(1, "fc").Sum());
        m.AddParameterGradients();
        var feeds = GradientCheck.MakeFeeds(m.Graph, 2, 1);
        var result = Interpreter.Run(m.Graph, feeds);
        Assert.Equal(new double[2], result["grad:unused"].Data);
        Assert.Equal(new[] { 2 }, result["grad:unused"].Dims);
    }
}
