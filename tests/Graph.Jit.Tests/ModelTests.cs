using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using Graph.Emit;
using Graph.Emit.Tests;
using Graph.Interpretation;
using Graph.Lowering;
using Graph.Runtime.Checkpoints;
using Graph.Runtime.Models;
using Graph.Runtime.Optimizers;
using Xunit.Abstractions;

namespace Graph.Jit.Tests;

/// <summary>The seed models' generated C# (as the source generator would emit it), compiled once with Roslyn.</summary>
public sealed class GeneratedModels
{
    public Assembly Assembly { get; } = RoslynCompiler.Compile(new[]
    {
        ModelEmitter.Emit(Models.Mlp(), Models.Target("Mlp")),
        ModelEmitter.Emit(Models.LeNet(), Models.Target("LeNet")),
        ModelEmitter.Emit(Models.LinearRegression(), Models.Target("LinearRegression")),
    }, "JitModels");

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
public class ModelTests : IClassFixture<GeneratedModels>
{
    private readonly GeneratedModels _generated;
    private readonly ITestOutputHelper _output;

    public ModelTests(GeneratedModels generated, ITestOutputHelper output)
    {
        _generated = generated;
        _output = output;
    }

    private static ISupervisedModel<int> Jit(string name, int maxBatch, ulong seed) =>
        GraphJit.CompileSupervised<int>(name == "Mlp" ? Models.Mlp() : Models.LeNet(), maxBatch, seed);

    /// <summary>
    /// Same seed, same data, same optimizer: the JIT and the generated class agree bit for bit on the initial parameters,
    /// predictions (both modes), losses, gradients and the parameters after several Adam steps, at two batch sizes.
    /// </summary>
    [Theory]
    [InlineData("Mlp", 16)]
    [InlineData("LeNet", 4)]
    public void Jit_and_generated_code_are_bit_identical(string name, int batch)
    {
        var jit = Jit(name, batch, seed: 21);
        var gen = _generated.Create<ISupervisedModel<int>>(name, batch, seed: 21);
        foreach (var p in gen.Parameters) Compare.Same("init " + p.Name, gen.Parameter(p.Name).ToArray(), jit.Parameter(p.Name).ToArray());
        jit.Optimizer = new Adam(1e-3f);
        gen.Optimizer = new Adam(1e-3f);
        foreach (int b in new[] { batch, batch - 1 })
        {
            var (x, y) = EngineAgreement.ClassifierBatch(b, 784, seed: b);
            var pj = new float[b * 10];
            var pg = new float[b * 10];
            jit.Predict(x, b, pj);
            gen.Predict(x, b, pg);
            Compare.Same("predict", pg, pj);
            Compare.Same("loss", new[] { gen.Loss(x, y, b) }, new[] { jit.Loss(x, y, b) });
            Compare.Same("gradients' loss", new[] { gen.ComputeGradients(x, y, b) }, new[] { jit.ComputeGradients(x, y, b) });
            foreach (var p in gen.Parameters) Compare.Same("grad:" + p.Name, gen.Gradient(p.Name).ToArray(), jit.Gradient(p.Name).ToArray());
            for (int s = 0; s < 3; s++)
                Compare.Same("train step", new[] { gen.TrainStep(x, y, b) }, new[] { jit.TrainStep(x, y, b) });
            foreach (var p in gen.Parameters) Compare.Same("param " + p.Name, gen.Parameter(p.Name).ToArray(), jit.Parameter(p.Name).ToArray());
        }
        Assert.Equal(gen.TrainingSteps, jit.TrainingSteps);
    }

    [Fact]
    public void One_method_per_kernel_gives_the_same_bits_as_one_per_program()
    {
        const int batch = 3;
        var a = GraphJit.CompileSupervised<int>(Models.LeNet(), batch, seed: 8);
        var b = GraphJit.CompileSupervised<int>(Models.LeNet(), batch, seed: 8, new JitOptions { MethodPerKernel = true });
        Assert.Contains("one per kernel", ((IRuntimeCompiledModel)b).Diagnostics);
        var (x, y) = EngineAgreement.ClassifierBatch(batch, 784, seed: 4);
        for (int s = 0; s < 2; s++) Compare.Same("step", new[] { a.TrainStep(x, y, batch) }, new[] { b.TrainStep(x, y, batch) });
        foreach (var p in a.Parameters) Compare.Same(p.Name, a.Parameter(p.Name).ToArray(), b.Parameter(p.Name).ToArray());
    }

    [Fact]
    public void LeNet_matches_the_interpreter_and_trains()
    {
        const int batch = 2;
        var builder = Models.LeNet();
        var model = GraphJit.CompileSupervised<int>(builder, 4, seed: 5);
        var (x, y) = EngineAgreement.ClassifierBatch(batch, 784, seed: 2);
        EngineAgreement.ClassifierMatchesInterpreterAndLearns(model, builder.Graph, new[] { 1, 28, 28 }, x, y, batch);
    }

    [Fact]
    public void Mlp_trains_and_uses_any_batch_up_to_the_maximum()
    {
        var model = GraphJit.CompileSupervised<int>(Models.Mlp(), 64, seed: 3);
        Assert.Equal(784, model.InputSize);
        Assert.Equal(1, model.LabelSize);
        Assert.Equal(10, model.OutputSize);
        Assert.Equal(ModelEngine.Jit, ((IRuntimeCompiledModel)model).Engine);
        var (x, y) = EngineAgreement.ClassifierBatch(64, 784);
        model.Optimizer = new Sgd(0.1f);
        float first = model.TrainStep(x, y, 64);
        float last = first;
        for (int i = 0; i < 30; i++) last = model.TrainStep(x, y, 64);
        Assert.True(last < first * 0.8f, $"{first} -> {last}");
        var all = new float[640];
        model.Predict(x, 64, all);
        var few = new float[50];
        model.Predict(x.AsSpan(0, 5 * 784), 5, few);
        for (int i = 0; i < 50; i++) Assert.Equal(all[i], few[i], 5);
    }

    [Fact]
    public void Linear_regression_fits_a_line_with_float_targets()
    {
        var model = GraphJit.CompileSupervised<float>(Models.LinearRegression(), 16, seed: 1);
        var x = Enumerable.Range(0, 16).Select(i => i / 8f - 1).ToArray();
        var t = x.Select(v => 3 * v + 0.5f).ToArray();
        model.Optimizer = new Sgd(0.1f);
        for (int i = 0; i < 500; i++) model.TrainStep(x, t, 16);
        Assert.True(model.Loss(x, t, 16) < 1e-4f);
        Assert.Equal(3f, model.Parameter("fc.weight").Span[0], 2);
        Assert.Equal(0.5f, model.Parameter("fc.bias").Span[0], 2);
        Assert.Throws<ArgumentException>(() => GraphJit.CompileSupervised<int>(Models.LinearRegression(), 4));
    }

    [Theory]
    [InlineData("Mlp")]
    [InlineData("LeNet")]
    public void Training_steps_allocate_nothing_after_warm_up(string name)
    {
        const int batch = 4;
        var model = Jit(name, batch, seed: 0);
        model.Optimizer = new Adam(1e-3f);
        var (x, y) = EngineAgreement.ClassifierBatch(batch, 784);
        EngineAgreement.AssertStepsAllocateNothing(model, x, y, batch);
    }

    [Theory]
    [InlineData("Mlp")]
    [InlineData("LeNet")]
    public void Training_output_is_the_steps_own_forward_pass(string name)
    {
        const int batch = 3;
        var model = Jit(name, 4, seed: 7);
        var (x, y) = EngineAgreement.ClassifierBatch(batch, 784, seed: 5);
        EngineAgreement.AssertTrainingOutputIsTheStepsForward(model, x, y, batch);
    }

    /// <summary>The same messages as the generated class (Graph.Emit.Tests asserts these texts on generated code).</summary>
    [Fact]
    public void Wrong_lengths_and_batches_are_rejected_with_the_generated_messages()
    {
        var jit = GraphJit.CompileSupervised<int>(Models.Mlp(), 64);
        var gen = _generated.Create<ISupervisedModel<int>>("Mlp", 64);
        foreach (var model in new[] { jit, gen })
        {
            var (x, y) = EngineAgreement.ClassifierBatch(64, 784);
            var e = Assert.Throws<ArgumentException>(() => model.TrainStep(x.AsSpan(0, 50000), y, 64));
            Assert.Contains("input 'x' needs batch*784 = 50176 floats, got 50000", e.Message);
            Assert.Equal("x", e.ParamName);
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
            Assert.Throws<ArgumentException>(() => model.Optimizer = new Sgd(0.1f).Also(o => o.Bind(new[] { 1, 2 })));
        }
        // Whole messages match, not just their key phrases.
        string Message(ICompiledModel m, Action<ICompiledModel> call) => Assert.ThrowsAny<Exception>(() => call(m)).Message;
        foreach (Action<ICompiledModel> call in new Action<ICompiledModel>[]
        {
            m => m.Parameter("nope"), m => m.State("nope"), m => m.InputBuffer("y"), m => m.LabelBuffer("x"),
            m => m.Predict(0, new float[10]), m => m.Predict(2, new float[3]),
        })
            Assert.Equal(Message(gen, call), Message(jit, call));
        Assert.Equal(gen.Inputs.Select(i => i.ToString()), jit.Inputs.Select(i => i.ToString()));
        Assert.Equal(gen.Parameters.Select(i => i.ToString()), jit.Parameters.Select(i => i.ToString()));
        Assert.Equal(gen.Name, jit.Name);
    }

    /// <summary>Train with the JIT, save a checkpoint, load it into the generated class: same predictions and optimizer state.</summary>
    [Fact]
    public void A_checkpoint_saved_by_the_jit_loads_into_the_generated_model_and_back()
    {
        const int batch = 8;
        var jit = Jit("LeNet", batch, seed: 4);
        jit.Optimizer = new Adam(1e-3f);
        var (x, y) = EngineAgreement.ClassifierBatch(batch, 784, seed: 9);
        for (int i = 0; i < 3; i++) jit.TrainStep(x, y, batch);
        string path = Path.Combine(Path.GetTempPath(), "graph-jit-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            Checkpoint.Save(path, Tensors(jit), jit.Optimizer, new Dictionary<string, string> { ["engine"] = "jit" });
            var gen = _generated.Create<ISupervisedModel<int>>("LeNet", batch, seed: 99);
            gen.Optimizer = new Adam(1e-3f);
            var metadata = Checkpoint.Load(path, Tensors(gen), gen.Optimizer);
            Assert.Equal("jit", metadata["engine"]);
            var pj = new float[batch * 10];
            var pg = new float[batch * 10];
            jit.Predict(x, batch, pj);
            gen.Predict(x, batch, pg);
            Compare.Same("predictions after loading", pg, pj);
            // Training continues identically from the checkpoint (optimizer state restored).
            Compare.Same("next step", new[] { gen.TrainStep(x, y, batch) }, new[] { jit.TrainStep(x, y, batch) });
            foreach (var p in gen.Parameters) Compare.Same(p.Name, gen.Parameter(p.Name).ToArray(), jit.Parameter(p.Name).ToArray());
            // And back: the generated model's checkpoint loads into a fresh JIT model.
            Checkpoint.Save(path, Tensors(gen), gen.Optimizer);
            var back = Jit("LeNet", batch, seed: 1);
            back.Optimizer = new Adam(1e-3f);
            Checkpoint.Load(path, Tensors(back), back.Optimizer);
            var pb = new float[batch * 10];
            back.Predict(x, batch, pb);
            gen.Predict(x, batch, pg);
            Compare.Same("round trip", pg, pb);
        }
        finally { File.Delete(path); }
    }

    /// <summary>As Graph.Training's Trainer.CheckpointTensors: parameters then states, by name.</summary>
    private static IReadOnlyList<NamedTensor> Tensors(ICompiledModel model) =>
        model.Parameters.Select(p => new NamedTensor(p.Name, p.Shape.ToArray(), model.Parameter(p.Name)))
            .Concat(model.States.Select(s => new NamedTensor(s.Name, s.Shape.ToArray(), model.State(s.Name)))).ToList();

    [Fact]
    public void Without_dynamic_code_compile_throws_a_clear_exception()
    {
        var e = Assert.Throws<NotSupportedException>(() => GraphJit.Compile(Models.Mlp(), 4, options: new JitOptions { SimulateNoDynamicCode = true }));
        Assert.Contains("dynamic code is not supported", e.Message);
        Assert.Contains("[Model]", e.Message);
        Assert.Contains("FallBackToInterpreter", e.Message);
    }

    [Fact]
    public void The_app_context_switch_simulates_no_dynamic_code()
    {
        AppContext.SetSwitch(JitOptions.SimulateNoDynamicCodeSwitch, true);
        try
        {
            Assert.False(GraphJit.IsSupported);
            Assert.Throws<NotSupportedException>(() => GraphJit.Compile(Models.Mlp(), 4));
        }
        finally { AppContext.SetSwitch(JitOptions.SimulateNoDynamicCodeSwitch, false); }
        Assert.True(GraphJit.IsSupported);
    }

    [Fact]
    public void The_opt_in_fallback_runs_on_the_interpreter_says_so_and_matches_the_jit()
    {
        const int batch = 3;
        var slow = GraphJit.CompileSupervised<int>(Models.Mlp(), batch, seed: 6, new JitOptions { FallBackToInterpreter = true, SimulateNoDynamicCode = true });
        var fast = GraphJit.CompileSupervised<int>(Models.Mlp(), batch, seed: 6);
        var info = (IRuntimeCompiledModel)slow;
        Assert.Equal(ModelEngine.Interpreter, info.Engine);
        Assert.Contains("reference interpreter", info.Diagnostics);
        Assert.Contains("dynamic code is not supported", info.Diagnostics);
        _output.WriteLine(info.Diagnostics);
        foreach (var p in fast.Parameters) Compare.Same(p.Name, fast.Parameter(p.Name).ToArray(), slow.Parameter(p.Name).ToArray());
        var (x, y) = EngineAgreement.ClassifierBatch(batch, 784, seed: 3);
        var ps = new float[batch * 10];
        var pf = new float[batch * 10];
        slow.Predict(x, batch, ps);
        fast.Predict(x, batch, pf);
        Assert.True(EngineAgreement.RelativeError(ps, pf.Select(v => (double)v).ToArray()) < EngineAgreement.Tolerance);
        float ls = slow.TrainStep(x, y, batch), lf = fast.TrainStep(x, y, batch);
        Assert.True(Math.Abs(ls - lf) < 1e-4 * Math.Max(1, Math.Abs(lf)));
        foreach (var p in fast.Parameters)
            Assert.True(EngineAgreement.RelativeError(slow.Parameter(p.Name).ToArray(), fast.Parameter(p.Name).ToArray().Select(v => (double)v).ToArray()) < EngineAgreement.Tolerance, p.Name);
        Assert.Throws<ArgumentException>(() => slow.TrainStep(x.AsSpan(1), y, batch));
    }

    /// <summary>Stopwatch timings (not asserted): the compile phases and the step time against the generated class, in this (warm) process.</summary>
    [Fact]
    public void Report_compile_and_step_times()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var jit = Jit("LeNet", 32, seed: 1);
        var compile = sw.Elapsed;
        var (x, y) = EngineAgreement.ClassifierBatch(32, 784);
        sw.Restart();
        jit.TrainStep(x, y, 32);
        var first = sw.Elapsed;
        var t = ((IRuntimeCompiledModel)jit).Timings;
        _output.WriteLine($"LeNet (warm process): lowering {t.Lowering.TotalMilliseconds:F1} ms, IL emission {t.Emission.TotalMilliseconds:F1} ms, construction {t.Construction.TotalMilliseconds:F1} ms, Compile total {compile.TotalMilliseconds:F1} ms, first step {first.TotalMilliseconds:F1} ms");
    }
}

internal static class Extensions
{
    public static T Also<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}
