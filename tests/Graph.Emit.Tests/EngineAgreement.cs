using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Runtime.Models;
using Graph.Tests;

namespace Graph.Emit.Tests;

/// <summary>
/// One compiled model (generated C# or IL JIT) against the float32 reference interpreter on one graph: the checks every
/// engine's agreement table runs (linked into Graph.Jit.Tests, so both engines are held to the same calls).
/// </summary>
public static class EngineAgreement
{
    /// <summary>
    /// A gradient-table case as a model, as GradientCheck.Prepare builds it: the case's output (batch axis first) as the
    /// prediction and a weighted sum of it as the loss.
    /// </summary>
    public static ModelBuilder BuildTableModel(GradCase c)
    {
        var m = new ModelBuilder(c.Name.Replace(' ', '_'));
        var output = c.Build(m);
        if (output.Shape.HasBatch && output.Shape.BatchAxis != 0)
        {
            int axis = output.Shape.BatchAxis;
            output = output.Transpose(new[] { axis }.Concat(Enumerable.Range(0, output.Shape.Rank).Where(a => a != axis)).ToArray());
        }
        m.Output(output);
        Tensor loss;
        if (output.Shape.Rank == 0) loss = output * 1.0;
        else if (output.Shape.HasBatch)
            loss = (output * m.Input("__weights", output.Shape.Dims.Skip(1).ToArray())).Sum();
        else
            loss = (output * m.Constant(GradientCheck.RandomValues(new Random(99), (int)output.Shape.ConstantSize, "w"), output.Shape.Dims)).Sum();
        m.Loss(loss);
        return m;
    }

    /// <summary>A classifier batch: features uniform in [0, 1), labels 0-9, from <paramref name="seed"/>.</summary>
    public static (float[] x, int[] y) ClassifierBatch(int batch, int features, int seed = 1)
    {
        var rng = new Random(seed);
        var x = new float[batch * features];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var y = new int[batch];
        for (int i = 0; i < y.Length; i++) y[i] = rng.Next(10);
        return (x, y);
    }

    /// <summary>After three warm-up rounds, five more training steps, losses and predictions allocate nothing.</summary>
    public static void AssertStepsAllocateNothing(ISupervisedModel<int> model, float[] x, int[] y, int batch)
    {
        var output = new float[batch * model.OutputSize];
        for (int i = 0; i < 3; i++) Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++) Round();
        Xunit.Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        void Round()
        {
            model.TrainStep(x, y, batch);
            model.TrainingOutput(batch, output);
            model.Loss(x, y, batch);
            model.Predict(x, batch, output);
        }
    }

    /// <summary>
    /// <see cref="ICompiledModel.TrainingOutput"/> after a step is that step's forward pass: the training-mode prediction
    /// with the parameters before the update (same dropout masks); it is refused before any step, for another batch
    /// size, and after a Predict or Loss has reused the storage.
    /// </summary>
    public static void AssertTrainingOutputIsTheStepsForward(ISupervisedModel<int> model, float[] x, int[] y, int batch)
    {
        var expected = new float[batch * model.OutputSize];
        var actual = new float[expected.Length];
        Xunit.Assert.Throws<InvalidOperationException>(() => model.TrainingOutput(batch, actual));
        for (int step = 0; step < 3; step++)
        {
            model.IsTraining = true;
            model.Predict(x, batch, expected);
            model.IsTraining = false;
            model.TrainStep(x, y, batch);
            model.TrainingOutput(batch, actual);
            for (int i = 0; i < expected.Length; i++)
                Xunit.Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])),
                    $"step {step}, element {i}: training pass {actual[i]}, training-mode prediction {expected[i]}");
        }
        var e = Xunit.Assert.Throws<ArgumentOutOfRangeException>(() => model.TrainingOutput(batch - 1, actual.AsSpan(0, (batch - 1) * model.OutputSize)));
        Xunit.Assert.Contains($"The last training pass ran {batch} examples", e.Message);
        Xunit.Assert.Throws<ArgumentException>(() => model.TrainingOutput(batch, actual.AsSpan(1)));
        model.Predict(x, batch, expected);
        Xunit.Assert.Throws<InvalidOperationException>(() => model.TrainingOutput(batch, actual));
    }

    /// <summary>Norm-wise relative tolerance: ‖a−b‖ / max(‖a‖, ‖b‖, 0.01).</summary>
    public const double Tolerance = 1e-4;

    /// <summary>‖a−b‖ / max(‖a‖, ‖b‖, 0.01); the floor keeps values that cancel to ~0 from dividing by ~0.</summary>
    public static double RelativeError(float[] a, double[] b)
    {
        double diff = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            diff += (a[i] - b[i]) * (a[i] - b[i]);
            na += (double)a[i] * a[i];
            nb += b[i] * b[i];
        }
        return Math.Sqrt(diff) / Math.Max(Math.Sqrt(Math.Max(na, nb)), 1e-2);
    }

    /// <summary>Copies every input, label, parameter and state of <paramref name="feeds"/> into the model's storage.</summary>
    public static void Feed(ICompiledModel model, IReadOnlyDictionary<string, TensorValue> feeds)
    {
        foreach (var i in model.Inputs)
        {
            var data = feeds[i.Name].Data;
            if (i.Kind == ModelTensorKind.Labels)
            {
                var span = model.LabelBuffer(i.Name);
                for (int k = 0; k < data.Length; k++) span[k] = (int)data[k];
            }
            else
            {
                var span = model.InputBuffer(i.Name);
                for (int k = 0; k < data.Length; k++) span[k] = (float)data[k];
            }
        }
        foreach (var p in model.Parameters) Copy(feeds[p.Name].Data, model.Parameter(p.Name).Span);
        foreach (var s in model.States) Copy(feeds[s.Name].Data, model.State(s.Name).Span);
    }

    /// <summary>
    /// Feeds the model and checks, through <paramref name="check"/>(what, actual, expected): prediction and loss in
    /// evaluation and in training mode, the gradients' loss and every gradient, then one SGD step (lr 0.1) against
    /// p − 0.1·g with the reference gradient, and the state updates.
    /// </summary>
    public static void MatchesInterpreter(ICompiledModel model, ComputeGraph graph, IReadOnlyDictionary<string, TensorValue> feeds,
        int batch, ulong seed, Action<string, float[], double[]> check)
    {
        Feed(model, feeds);
        var evalRef = Interpreter.Run(graph, feeds, Mode.Eval, Precision.Float32, seed, 0);
        var trainRef = Interpreter.Run(graph, feeds, Mode.Train, Precision.Float32, seed, 0);

        // Evaluation mode: prediction and loss.
        var prediction = new float[model.OutputSize * (graph.FindOutput("output")!.Node.Shape.HasBatch ? batch : 1)];
        model.Predict(batch, prediction);
        check("eval output", prediction, evalRef["output"].Data);
        check("eval loss", new[] { model.Loss(batch) }, evalRef["loss"].Data);

        // Training mode forward.
        model.IsTraining = true;
        model.Predict(batch, prediction);
        check("train output", prediction, trainRef["output"].Data);
        check("train loss", new[] { model.Loss(batch) }, trainRef["loss"].Data);
        model.IsTraining = false;

        // Gradients.
        float loss = model.ComputeGradients(batch);
        check("gradients' loss", new[] { loss }, trainRef["loss"].Data);
        foreach (var p in model.Parameters)
            check("grad:" + p.Name, model.Gradient(p.Name).ToArray(), trainRef["grad:" + p.Name].Data);

        // One SGD step: p - lr·g with the reference gradient; states take their reference updates.
        model.Optimizer = new Graph.Runtime.Optimizers.Sgd(0.1f);
        model.TrainStep(batch);
        foreach (var p in model.Parameters)
        {
            var before = feeds[p.Name].Data;
            var g = trainRef["grad:" + p.Name].Data;
            check("sgd " + p.Name, model.Parameter(p.Name).ToArray(), before.Select((v, i) => (double)(float)(v - 0.1 * g[i])).ToArray());
        }
        foreach (var s in model.States)
            check("state " + s.Name, model.State(s.Name).ToArray(), trainRef["state:" + s.Name].Data);
        if (model.TrainingSteps != 1) throw new InvalidOperationException($"TrainingSteps is {model.TrainingSteps} after one step.");
    }

    /// <summary>
    /// A classifier with inputs "x" (<paramref name="inputDims"/> per example) and labels "y", driven through its typed API:
    /// the gradients' loss, every gradient and the prediction match the interpreter on <paramref name="graph"/> (which must
    /// hold the gradient outputs), and six training steps on the batch lower the loss.
    /// </summary>
    public static void ClassifierMatchesInterpreterAndLearns(ISupervisedModel<int> model, ComputeGraph graph, int[] inputDims,
        float[] x, int[] y, int batch)
    {
        float loss = model.ComputeGradients(x, y, batch);
        var feeds = new Dictionary<string, TensorValue>
        {
            ["x"] = new(new[] { batch }.Concat(inputDims).ToArray(), x.Select(v => (double)v).ToArray()),
            ["y"] = new(new[] { batch }, y.Select(v => (double)v).ToArray()),
        };
        foreach (var p in model.Parameters)
            feeds[p.Name] = new(p.Shape.ToArray(), model.Parameter(p.Name).ToArray().Select(v => (double)v).ToArray());
        var reference = Interpreter.Run(graph, feeds, Mode.Train, Precision.Float32);
        Xunit.Assert.True(RelativeError(new[] { loss }, reference["loss"].Data) < Tolerance);
        foreach (var p in model.Parameters)
        {
            double error = RelativeError(model.Gradient(p.Name).ToArray(), reference["grad:" + p.Name].Data);
            Xunit.Assert.True(error < Tolerance, $"grad:{p.Name}: {error:E3}");
        }
        var output = new float[batch * model.OutputSize];
        model.Predict(x, batch, output);
        Xunit.Assert.True(RelativeError(output, reference["output"].Data) < Tolerance);
        float first = model.TrainStep(x, y, batch);
        float last = first;
        for (int i = 0; i < 5; i++) last = model.TrainStep(x, y, batch);
        Xunit.Assert.True(last < first, $"{first} -> {last}");
    }

    private static void Copy(double[] from, Span<float> to)
    {
        if (from.Length != to.Length) throw new ArgumentException($"Feed of {from.Length} values for storage of {to.Length}.");
        for (int k = 0; k < from.Length; k++) to[k] = (float)from[k];
    }
}
