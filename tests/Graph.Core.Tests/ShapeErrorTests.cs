using System;
using Graph.Builder;
using Graph.Ir;

namespace Graph.Tests;

/// <summary>Shape errors name the op, the operands' types and the caller's file and line.</summary>
public class ShapeErrorTests
{
    private static ShapeException Catch(Action build) => Assert.Throws<ShapeException>(build);

    [Fact]
    public void Matmul_with_mismatched_inner_dimensions_names_both_shapes_and_the_line()
    {
        var m = new ModelBuilder();
        var x = m.Input("x", 784);
        var w = m.Parameter("w", new[] { 100, 10 }, Init.Zeros);
        int line = 0;
        var e = Catch(() => { line = Line(); x.MatMul(w); });
        Assert.Equal("matmul", e.Op);
        Assert.Contains("f32[N,784], f32[100,10]", e.Message);
        Assert.Contains("inner dimensions differ: 784", e.Message);
        Assert.Contains("100", e.Reason);
        Assert.Equal(line, e.Location!.Line);
        Assert.Contains($"ShapeErrorTests.cs:{line}", e.Message);
    }

    [Fact]
    public void Broadcast_failure_reports_dimensions()
    {
        var m = new ModelBuilder();
        var a = m.Input("a", 3);
        var b = m.Input("b", 4);
        int line = 0;
        var e = Catch(() => { line = Line(); a.Add(b); });
        Assert.Equal("add", e.Op);
        Assert.Contains("shapes [N,3] and [N,4] do not broadcast: dimension 1 is 3 vs 4", e.Message);
        Assert.Equal(line, e.Location!.Line);
    }

    [Fact]
    public void Conv_channel_mismatch_is_reported_at_the_layer()
    {
        var m = new ModelBuilder();
        var x = m.Input("x", 3, 28, 28);
        var w = m.Parameter("w", new[] { 8, 1, 3, 3 }, Init.Zeros);
        var e = Catch(() => x.Conv2d(w));
        Assert.Equal("conv2d", e.Op);
        Assert.Contains("input has 3 channels but filters expect 1", e.Message);
        Assert.Contains("f32[N,3,28,28], f32[8,1,3,3]", e.Message);
    }

    [Fact]
    public void Dense_on_an_image_asks_for_flatten()
    {
        var m = new ModelBuilder();
        var x = m.Input("x", 1, 28, 28);
        var e = Catch(() => x.Dense(10));
        Assert.Contains("call Flatten() first", e.Message);
        Assert.Contains("f32[N,1,28,28]", e.Message);
    }

    [Fact]
    public void Window_larger_than_input_is_rejected()
    {
        var m = new ModelBuilder();
        var e = Catch(() => m.Input("x", 1, 2, 2).MaxPool2d(3));
        Assert.Equal("maxpool2d", e.Op);
        Assert.Contains("window 3x3 does not fit", e.Message);
    }

    [Fact]
    public void Reshape_must_keep_element_count_and_batch()
    {
        var m = new ModelBuilder();
        var x = m.Input("x", 6);
        Assert.Contains("cannot reshape [N,6] (6 elements per batch item) to [N,4]", Catch(() => x.Reshape(new[] { -1, 4 })).Message);
        Assert.Contains("batch dimension N must appear in both", Catch(() => x.Reshape(new[] { 6 })).Message);
    }

    [Fact]
    public void Loss_must_be_scalar_and_labels_must_match()
    {
        var m = new ModelBuilder();
        var logits = m.Input("x", 10);
        var labels = m.Labels("y", classes: 5);
        Assert.Contains("labels were declared with 5 classes but the scores have 10", Catch(() => logits.SoftmaxCrossEntropy(labels)).Message);
        Assert.Contains("the loss must be a scalar, got f32[N,10]", Catch(() => m.Loss(logits)).Message);
        var targets = m.Targets("t", 3);
        Assert.Contains("prediction and target must have the same type, got f32[N,10] and f32[N,3]", Catch(() => logits.MseLoss(targets)).Message);
    }

    [Fact]
    public void Duplicate_names_and_foreign_tensors_are_rejected()
    {
        var m = new ModelBuilder();
        m.Input("x", 3).Dense(2, "fc");
        Assert.Contains("'fc.weight' is already used", Catch(() => m.Input("y", 3).Dense(2, "fc")).Message);
        var other = new ModelBuilder().Input("z", 3);
        Assert.Contains("operand belongs to another model", Catch(() => m.Input("w", 3).Add(other)).Message);
    }

    [Fact]
    public void Axis_out_of_range_and_bad_permutation()
    {
        var m = new ModelBuilder();
        var x = m.Input("x", 3);
        Assert.Contains("axis 2 is out of range for rank 2", Catch(() => x.Sum(2)).Message);
        Assert.Contains("is not a permutation", Catch(() => x.Transpose(new[] { 0, 0 })).Message);
        Assert.Contains("dropout probability must be in [0, 1)", Catch(() => x.Dropout(1.0)).Message);
    }

    private static int Line([System.Runtime.CompilerServices.CallerLineNumber] int line = 0) => line;
}
