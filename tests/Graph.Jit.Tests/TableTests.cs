using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Graph.Builder;
using Graph.Emit;
using Graph.Emit.Tests;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Jit.Emit.IL;
using Graph.Lowering;
using Graph.Ops;
using Graph.Runtime.Models;
using Graph.Tests;
using Xunit.Abstractions;

namespace Graph.Jit.Tests;

/// <summary>
/// The core gradient-check table (the same one Graph.Emit.Tests runs on generated C#), each row as a model with its
/// output as prediction and a weighted sum as loss; and the same rows emitted as C# and compiled once with Roslyn,
/// for the bit-for-bit comparison of the two emitters.
/// </summary>
public sealed class JitTable
{
    public sealed class Entry
    {
        public required GradCase Case { get; init; }
        public required bool Scaled { get; init; }
        public required Func<ModelBuilder> Build { get; init; }
        public required Dictionary<string, TensorValue> Feeds { get; init; }
        public required string ClassName { get; init; }
    }

    public Dictionary<string, Entry> Entries { get; } = new();
    private readonly Lazy<Assembly> _generated;

    public static string Key(string name, bool scaled) => (scaled ? "scaled: " : "") + name;

    public JitTable()
    {
        int index = 0;
        foreach (bool scaled in new[] { false, true })
        {
            foreach (var c in GradientTable.Cases)
            {
                Func<ModelBuilder> build = () =>
                {
                    GradientTable.ScaleInputs = scaled;
                    try { return EngineAgreement.BuildTableModel(c); }
                    finally { GradientTable.ScaleInputs = false; }
                };
                var m = build();
                if (scaled && !m.Graph.Parameters.Any(p => ((ParameterOp)p.Op).LeafName.StartsWith("pos_scale_"))) continue;
                ModelLowering.Lower(m); // the feeds cover the gradients' graph too
                Entries[Key(c.Name, scaled)] = new Entry
                {
                    Case = c, Scaled = scaled, Build = build, ClassName = "Generated.JitTable.Case" + index++,
                    Feeds = GradientCheck.MakeFeeds(m.Graph, c.Batch, c.Classes),
                };
            }
        }
        _generated = new Lazy<Assembly>(() => RoslynCompiler.Compile(Entries.Values.Select(e =>
            ModelEmitter.Emit(e.Build(), new EmitTarget("Generated.JitTable", e.ClassName.Split('.').Last(), "public", Array.Empty<string>()))), "JitTable"));
    }

    /// <summary>The generated C# of every row, compiled together on first use.</summary>
    public Assembly Generated => _generated.Value;

}

public class TableTests : IClassFixture<JitTable>
{
    /// <summary>As Graph.Emit.Tests: ‖a − b‖ / max(‖a‖, ‖b‖, 0.01) ≤ 1e-4 against the float32-rounded interpreter.</summary>
    public const double Tolerance = EngineAgreement.Tolerance;

    private readonly JitTable _table;
    private readonly ITestOutputHelper _output;

    public TableTests(JitTable table, ITestOutputHelper output)
    {
        _table = table;
        _output = output;
    }

    public static IEnumerable<object[]> Rows =>
        GradientTable.Cases.SelectMany(c => new[] { new object[] { c.Name, false }, new object[] { c.Name, true } });

    public static IEnumerable<object[]> Engines =>
        new[] { new object[] { ModelEngine.Jit }, new object[] { ModelEngine.Interpreter } };

    private static ICompiledModel Compile(ModelBuilder builder, int maxBatch, ulong seed, ModelEngine engine) =>
        engine == ModelEngine.Jit
            ? GraphJit.Compile(builder, maxBatch, seed)
            : GraphJit.Compile(builder, maxBatch, seed, new JitOptions { FallBackToInterpreter = true, SimulateNoDynamicCode = true });

    [Theory]
    [MemberData(nameof(Rows))]
    public void Jit_matches_the_interpreter(string name, bool scaled) => Agree(name, scaled, ModelEngine.Jit);

    [Theory]
    [InlineData("mlp with softmax cross-entropy", false)]
    [InlineData("small cnn train (bn, dropout)", true)]
    [InlineData("batch norm train [N,C,H,W]", true)]
    [InlineData("concat", false)]
    public void Interpreter_fallback_matches_the_interpreter(string name, bool scaled) => Agree(name, scaled, ModelEngine.Interpreter);

    private void Agree(string name, bool scaled, ModelEngine engine)
    {
        if (!_table.Entries.TryGetValue(JitTable.Key(name, scaled), out var e)) return; // no input to scale
        var c = e.Case;
        const ulong seed = 7;
        var builder = e.Build();
        var model = Compile(builder, c.Batch + 2, seed, engine);
        Assert.Equal(engine, ((IRuntimeCompiledModel)model).Engine);
        EngineAgreement.MatchesInterpreter(model, builder.Graph, e.Feeds, c.Batch, seed, (what, actual, expected) => Check(e, what, actual, expected));
    }

    /// <summary>
    /// The IL emitter and the C# emitter, given the same plan, seed and inputs, produce the same bits: predictions in both
    /// modes, losses, gradients, and parameters and states after an SGD step.
    /// </summary>
    [Theory]
    [MemberData(nameof(Rows))]
    public void Jit_is_bit_identical_to_the_generated_code(string name, bool scaled)
    {
        if (!_table.Entries.TryGetValue(JitTable.Key(name, scaled), out var e)) return;
        var c = e.Case;
        const ulong seed = 11;
        var jit = GraphJit.Compile(e.Build(), c.Batch + 2, seed);
        var gen = RoslynCompiler.Create<ICompiledModel>(_table.Generated, e.ClassName, c.Batch + 2, seed);
        foreach (var p in gen.Parameters) Assert.Equal(Bits(gen.Parameter(p.Name).Span), Bits(jit.Parameter(p.Name).Span));
        EngineAgreement.Feed(jit, e.Feeds);
        EngineAgreement.Feed(gen, e.Feeds);
        Compare.Models(jit, gen, c.Batch, steps: 2);
    }

    /// <summary>A model whose gradient of "b" is a constant (one): lowering writes it with a fill kernel.</summary>
    public static ModelBuilder ConstantGradient()
    {
        var m = new ModelBuilder("constant_gradient");
        var x = m.Input("x", 3);
        var t = m.Targets("t", 2);
        var b = m.Parameter("b", new[] { 1 }, Init.Ones);
        var y = x.Dense(2, "fc");
        m.Output(y);
        m.Loss(y.MseLoss(t) + b.Sum());
        return m;
    }

    [Fact]
    public void Constant_gradient_model_agrees_with_the_interpreter_and_the_generated_code()
    {
        const int batch = 3;
        var builder = ConstantGradient();
        var jit = GraphJit.Compile(builder, batch, seed: 2);
        var feeds = GradientCheck.MakeFeeds(builder.Graph, batch, 4);
        EngineAgreement.Feed(jit, feeds);
        var reference = Interpreter.Run(builder.Graph, feeds, Mode.Train, Precision.Float32, 2, 0);
        Assert.True(EngineAgreement.RelativeError(new[] { jit.ComputeGradients(batch) }, reference["loss"].Data) <= Tolerance);
        foreach (var p in jit.Parameters)
            Assert.True(EngineAgreement.RelativeError(jit.Gradient(p.Name).ToArray(), reference["grad:" + p.Name].Data) <= Tolerance, p.Name);
        Assert.Equal(new[] { 1f }, jit.Gradient("b").ToArray());
        var assembly = RoslynCompiler.Compile(new[] { ModelEmitter.Emit(ConstantGradient(), new EmitTarget("Generated.Fill", "ConstantGradient", "public", Array.Empty<string>())) }, "Fill");
        var gen = RoslynCompiler.Create<ICompiledModel>(assembly, "Generated.Fill.ConstantGradient", batch, 2);
        var fresh = GraphJit.Compile(ConstantGradient(), batch, seed: 2);
        EngineAgreement.Feed(gen, feeds);
        EngineAgreement.Feed(fresh, feeds);
        Compare.Models(fresh, gen, batch, steps: 2);
    }

    private static int[] Bits(ReadOnlySpan<float> values) => values.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>
    /// Every kernel kind, loop instruction op, reduction and data movement that lowering produces over the whole table is
    /// one the IL emitter handles (a construct the C# emitter supports and the IL emitter does not fails here, by name),
    /// and the table exercises every kind the IL emitter has.
    /// </summary>
    [Fact]
    public void Il_emitter_handles_every_construct_the_table_lowers_to()
    {
        var seen = new SortedSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        var models = _table.Entries.Values.Select(e => (e.Case.Name, e.Build()))
            .Concat(new[] { ("mlp", Models.Mlp()), ("lenet", Models.LeNet()), ("linear", Models.LinearRegression()), ("constant gradient", ConstantGradient()) });
        foreach (var (name, builder) in models)
        {
            var plan = ModelLowering.Lower(builder);
            try { IlModelEmitter.CheckSupported(plan); }
            catch (NotSupportedException ex) { missing.Add(name + ": " + ex.Message); }
            foreach (var p in plan.Programs.Values)
            {
                foreach (var k in p.Kernels)
                {
                    seen.Add("kernel:" + k.KindName);
                    var loops = new List<LoopKernel>();
                    if (k is LoopKernel l) loops.Add(l);
                    if (k is GemmKernel { Epilogue: { } ge }) loops.Add(ge);
                    if (k is ConvKernel { Epilogue: { } ce }) loops.Add(ce);
                    foreach (var loop in loops)
                    {
                        foreach (var ins in loop.Instructions) seen.Add("op:" + ins.Node.Op.GetType().Name);
                        foreach (var r in loop.Reducers) seen.Add("reduce:" + r.Kind);
                        seen.Add(loop.Vectorizable ? "loop:vector" : "loop:scalar");
                    }
                }
            }
        }
        _output.WriteLine(string.Join("\n", seen));
        Assert.Empty(missing);
        // Every pointwise op of the core has a loop form in the IL emitter.
        var pointwise = typeof(Op).Assembly.GetTypes().Where(t => !t.IsAbstract && (typeof(UnaryPointwiseOp).IsAssignableFrom(t) || typeof(BinaryPointwiseOp).IsAssignableFrom(t)));
        Assert.Empty(pointwise.Where(t => !IlModelEmitter.LoopOps.Contains(t)).Select(t => t.Name));
        // The table reaches every kernel kind the emitters know.
        string[] kinds =
        {
            "kernel:loop", "kernel:loop+reduce", "kernel:gemm", "kernel:gemm+epilogue", "kernel:conv", "kernel:conv+epilogue",
            "kernel:conv-input-grad", "kernel:conv-filter-grad", "kernel:maxpool", "kernel:maxpool-grad", "kernel:avgpool",
            "kernel:avgpool-grad", "kernel:transpose", "kernel:concat", "kernel:slice", "kernel:copy", "kernel:fill",
            "reduce:Sum", "reduce:Max", "reduce:LogSumExp", "loop:vector", "loop:scalar",
        };
        Assert.Equal(Array.Empty<string>(), kinds.Where(k => !seen.Contains(k)).ToArray());
        Assert.Equal(Array.Empty<string>(), IlModelEmitter.LoopOps.Select(t => "op:" + t.Name).Where(k => !seen.Contains(k)).ToArray());
    }



    private void Check(JitTable.Entry e, string what, float[] actual, double[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double error = EngineAgreement.RelativeError(actual, expected);
        string where = $"{(e.Scaled ? "scaled " : "")}{e.Case.Name} / {what}";
        _output.WriteLine($"{where}: {error:E2}");
        Assert.True(error <= Tolerance, $"{where}: relative difference {error:E3} > {Tolerance:E0}\n  actual   {string.Join(", ", actual.Take(8))}\n  expected {string.Join(", ", expected.Take(8))}");
    }
}

/// <summary>Bit-for-bit comparison of two engines' models.</summary>
public static class Compare
{
    /// <summary>Runs both models through the same calls and asserts every result has the same bits.</summary>
    public static void Models(ICompiledModel a, ICompiledModel b, int batch, int steps)
    {
        bool hasOutput = a.OutputSize > 0;
        int outLength = 0;
        if (hasOutput)
        {
            // The output size may be per example or fixed: ask for the length the model accepts.
            outLength = OutputLength(a, batch);
        }
        bool hasLoss = a.Parameters.Count > 0 || a.Inputs.Any(i => i.Kind != ModelTensorKind.Input);
        a.Optimizer = new Graph.Runtime.Optimizers.Sgd(0.1f);
        b.Optimizer = new Graph.Runtime.Optimizers.Sgd(0.1f);
        for (int s = 0; s < steps; s++)
        {
            foreach (bool training in new[] { false, true })
            {
                a.IsTraining = b.IsTraining = training;
                if (hasOutput)
                {
                    var pa = new float[outLength];
                    var pb = new float[outLength];
                    a.Predict(batch, pa);
                    b.Predict(batch, pb);
                    Same($"predict (training={training}, step {s})", pb, pa);
                }
                if (hasLoss) Same($"loss (training={training}, step {s})", new[] { b.Loss(batch) }, new[] { a.Loss(batch) });
            }
            a.IsTraining = b.IsTraining = false;
            if (!hasLoss) continue;
            Same($"gradients' loss (step {s})", new[] { b.ComputeGradients(batch) }, new[] { a.ComputeGradients(batch) });
            foreach (var p in a.Parameters) Same($"grad:{p.Name} (step {s})", b.Gradient(p.Name).ToArray(), a.Gradient(p.Name).ToArray());
            Same($"train step loss (step {s})", new[] { b.TrainStep(batch) }, new[] { a.TrainStep(batch) });
            foreach (var p in a.Parameters) Same($"param {p.Name} (step {s})", b.Parameter(p.Name).ToArray(), a.Parameter(p.Name).ToArray());
            foreach (var st in a.States) Same($"state {st.Name} (step {s})", b.State(st.Name).ToArray(), a.State(st.Name).ToArray());
        }
    }

    private static int OutputLength(ICompiledModel m, int batch)
    {
        try
        {
            m.Predict(batch, new float[m.OutputSize * batch]);
            return m.OutputSize * batch;
        }
        catch (ArgumentException) { return m.OutputSize; }
    }

    public static void Same(string what, float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])) continue;
            float d = Math.Abs(expected[i] - actual[i]);
            if (at < 0 || d > worst || float.IsNaN(d)) { worst = d; at = i; }
        }
        Assert.True(at < 0, $"{what}: not bit-identical; max |difference| {worst:E3} at {at} (generated {(at >= 0 ? expected[at] : 0)}, jit {(at >= 0 ? actual[at] : 0)})");
    }
}
