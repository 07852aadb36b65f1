using System;
using System.Linq;
using System.Reflection;
using Graph.Interpretation;
using Graph.Lowering;
using Graph.Runtime.Models;
using Graph.Tests;

namespace Graph.Emit.Tests;

/// <summary>Linear regression, the MLP and LeNet, emitted and compiled together once.</summary>
public sealed class CompiledModels
{
    public Assembly Assembly { get; }
    public string LinearCode { get; }
    public string MlpCode { get; }
    public string LeNetCode { get; }

    public CompiledModels()
    {
        LinearCode = ModelEmitter.Emit(Models.LinearRegression(), Models.Target("LinearRegression"));
        MlpCode = ModelEmitter.Emit(Models.Mlp(), Models.Target("Mlp"));
        LeNetCode = ModelEmitter.Emit(Models.LeNet(), Models.Target("LeNet"));
        Assembly = RoslynCompiler.Compile(new[] { LinearCode, MlpCode, LeNetCode }, "Models");
    }

    public T Create<T>(string name, int maxBatch, ulong seed = 0) => RoslynCompiler.Create<T>(Assembly, "Generated.Models." + name, maxBatch, seed);
}

/// <summary>
/// Runs alone: the allocation test measures the calling thread, and while another test holds the kernel worker pool the
/// kernels run every part inline, whose per-thread scratch then grows once on this thread.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NonParallelModelTests
{
    public const string Name = "model tests (allocation-sensitive)";
}

[Collection(NonParallelModelTests.Name)]
public class ModelTests : IClassFixture<CompiledModels>
{
    private readonly CompiledModels _models;

    public ModelTests(CompiledModels models) => _models = models;

    [Fact]
    public void Emitted_code_snapshots()
    {
        Snapshot.Match(_models.LinearCode, "linear-regression.cs");
        Snapshot.Match(_models.MlpCode, "mlp-784-128-10.cs");
        Snapshot.Match(_models.LeNetCode, "lenet.cs");
    }

    [Fact]
    public void Kernel_plan_snapshots()
    {
        Snapshot.Match(ModelLowering.Lower(Models.Mlp()).Summary(), "mlp-784-128-10.plan");
        Snapshot.Match(ModelLowering.Lower(Models.LeNet()).Summary(), "lenet.plan");
    }

    [Fact]
    public void Emission_is_deterministic() =>
        Assert.Equal(ModelEmitter.Emit(Models.LeNet(), Models.Target("LeNet")), _models.LeNetCode);

    [Fact]
    public void Mlp_trains_and_uses_any_batch_up_to_the_maximum()
    {
        var model = _models.Create<ISupervisedModel<int>>("Mlp", 64, seed: 3);
        Assert.Equal(784, model.InputSize);
        Assert.Equal(10, model.OutputSize);
        var (x, y) = EngineAgreement.ClassifierBatch(64, 784);
        model.Optimizer = new Graph.Runtime.Optimizers.Sgd(0.1f);
        float first = model.TrainStep(x, y, 64);
        float last = first;
        for (int i = 0; i < 30; i++) last = model.TrainStep(x, y, 64);
        Assert.True(last < first * 0.8f, $"{first} -> {last}");
        // A smaller batch gives the same per-example predictions.
        var all = new float[640];
        model.Predict(x, 64, all);
        var few = new float[50];
        model.Predict(x.AsSpan(0, 5 * 784), 5, few);
        for (int i = 0; i < 50; i++) Assert.Equal(all[i], few[i], 5);
    }

    [Fact]
    public void Linear_regression_fits_a_line()
    {
        var model = _models.Create<ISupervisedModel<float>>("LinearRegression", 16, seed: 1);
        var x = Enumerable.Range(0, 16).Select(i => i / 8f - 1).ToArray();
        var t = x.Select(v => 3 * v + 0.5f).ToArray();
        model.Optimizer = new Graph.Runtime.Optimizers.Sgd(0.1f);
        for (int i = 0; i < 500; i++) model.TrainStep(x, t, 16);
        Assert.True(model.Loss(x, t, 16) < 1e-4f);
        Assert.Equal(3f, model.Parameter("fc.weight").Span[0], 2);
        Assert.Equal(0.5f, model.Parameter("fc.bias").Span[0], 2);
    }

    [Fact]
    public void LeNet_matches_the_interpreter_and_trains()
    {
        const int batch = 2;
        var builder = Models.LeNet();
        var model = _models.Create<ISupervisedModel<int>>("LeNet", 4, seed: 5);
        var (x, y) = EngineAgreement.ClassifierBatch(batch, 784, seed: 2);
        ModelLowering.Lower(builder); // adds the gradients to the builder's graph
        EngineAgreement.ClassifierMatchesInterpreterAndLearns(model, builder.Graph, new[] { 1, 28, 28 }, x, y, batch);
    }

    [Theory]
    [InlineData("Mlp", 784)]
    [InlineData("LeNet", 784)]
    public void Training_steps_allocate_nothing_after_warm_up(string name, int features)
    {
        const int batch = 4;
        var model = _models.Create<ISupervisedModel<int>>(name, batch);
        var (x, y) = EngineAgreement.ClassifierBatch(batch, features);
        EngineAgreement.AssertStepsAllocateNothing(model, x, y, batch);
    }

    [Theory]
    [InlineData("Mlp")]
    [InlineData("LeNet")]
    public void Training_output_is_the_steps_own_forward_pass(string name)
    {
        const int batch = 3;
        var model = _models.Create<ISupervisedModel<int>>(name, 4, seed: 7);
        var (x, y) = EngineAgreement.ClassifierBatch(batch, 784, seed: 5);
        EngineAgreement.AssertTrainingOutputIsTheStepsForward(model, x, y, batch);
    }

    [Fact]
    public void Wrong_lengths_and_batches_are_rejected_with_clear_messages()
    {
        var model = _models.Create<ISupervisedModel<int>>("Mlp", 64);
        var (x, y) = EngineAgreement.ClassifierBatch(64, 784);
        var e = Assert.Throws<ArgumentException>(() => model.TrainStep(x.AsSpan(0, 50000), y, 64));
        Assert.Contains("input 'x' needs batch*784 = 50176 floats, got 50000", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Loss(x, y.AsSpan(0, 63), 64));
        Assert.Contains("labels 'y' needs batch = 64 ints, got 63", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Predict(x, 64, new float[10]));
        Assert.Contains("output needs batch*10 = 640 floats, got 10", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.TrainStep(x, y, 0));
        var big = new float[65 * 784];
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Predict(big, 65, new float[650]));
        y[3] = 10;
        e = Assert.Throws<ArgumentException>(() => model.TrainStep(x, y, 64));
        Assert.Contains("label 'y' at index 3 is 10", e.Message);
        Assert.Throws<ArgumentException>(() => model.Parameter("nope"));
    }

    [Fact]
    public void Parameters_are_initialized_deterministically_from_the_seed()
    {
        var a = _models.Create<ICompiledModel>("Mlp", 1, seed: 42);
        var b = _models.Create<ICompiledModel>("Mlp", 1, seed: 42);
        var c = _models.Create<ICompiledModel>("Mlp", 1, seed: 43);
        Assert.Equal(a.Parameter("fc1.weight").ToArray(), b.Parameter("fc1.weight").ToArray());
        Assert.NotEqual(a.Parameter("fc1.weight").ToArray(), c.Parameter("fc1.weight").ToArray());
        float bound = 1 / MathF.Sqrt(784);
        Assert.All(a.Parameter("fc1.weight").ToArray(), v => Assert.InRange(v, -bound, bound));
        Assert.Equal(new[] { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" }, a.Parameters.Select(p => p.Name));
    }
}
