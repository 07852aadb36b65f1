using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Ops;
using Graph.Passes;

namespace Graph.Tests;

/// <summary>One row of the gradient-check table: a graph to differentiate and how to feed it.</summary>
public sealed class GradCase
{
    public GradCase(string name, Func<ModelBuilder, Tensor> build, Mode mode = Mode.Train, int batch = 3, int classes = 4)
    {
        Name = name;
        Build = build;
        Mode = mode;
        Batch = batch;
        Classes = classes;
    }

    public string Name { get; }
    public Func<ModelBuilder, Tensor> Build { get; }
    public Mode Mode { get; }
    public int Batch { get; }
    public int Classes { get; }
    public override string ToString() => Name;
}

/// <summary>
/// Central finite differences in double precision against the symbolic gradient, evaluated by the
/// reference interpreter. Leaves are fed values away from kinks: by default distinct magnitudes in
/// [0.1, 1] with random signs (no ReLU at 0, no max ties); names starting with "pos" get values in
/// [0.5, 2], "prob" in [0.1, 0.9]; integer labels are uniform over the classes.
/// </summary>
public static class GradientCheck
{
    public const double Step = 1e-6;

    public sealed class Result
    {
        public required ComputeGraph Graph { get; init; }
        public required Dictionary<string, TensorValue> Feeds { get; init; }
        public required double WorstRelativeError { get; init; }
        public required string WorstLeaf { get; init; }
        public required int Checked { get; init; }
    }

    /// <summary>Builds a scalar loss from the case (Σ output·W with fixed random W when the output is not scalar).</summary>
    public static (ModelBuilder builder, Tensor loss, Tensor[] wrt) Prepare(GradCase c)
    {
        var m = new ModelBuilder(c.Name.Replace(' ', '_'));
        var output = c.Build(m);
        Tensor loss;
        if (output.Shape.HasBatch && output.Shape.BatchAxis != 0)
        {
            int axis = output.Shape.BatchAxis;
            output = output.Transpose(new[] { axis }.Concat(Enumerable.Range(0, output.Shape.Rank).Where(a => a != axis)).ToArray());
        }
        if (output.Shape.Rank == 0) loss = output;
        else if (output.Shape.HasBatch)
            loss = (output * m.Input("__weights", output.Shape.Dims.Skip(1).ToArray())).Sum();
        else
            loss = (output * m.Constant(RandomValues(new Random(99), (int)output.Shape.ConstantSize, "w"), output.Shape.Dims)).Sum();
        m.Loss(loss);
        var wrt = m.Graph.Nodes
            .Where(n => n.Op is ParameterOp || n.Op is InputOp { Role: InputRole.Feature } && n.DType != DType.Int32 && ((InputOp)n.Op).LeafName != "__weights")
            .Select(m.Wrap).ToArray();
        return (m, loss, wrt);
    }

    public static Dictionary<string, TensorValue> MakeFeeds(ComputeGraph graph, int batch, int classes, int seed = 1234)
    {
        var random = new Random(seed);
        var feeds = new Dictionary<string, TensorValue>();
        foreach (var node in graph.Nodes)
        {
            if (node.Op is not LeafOp leaf) continue;
            var dims = node.Shape.Concrete(batch);
            int size = TensorValue.Product(dims);
            double[] data = node.DType == DType.Int32
                ? Enumerable.Range(0, size).Select(_ => (double)random.Next(classes)).ToArray()
                : node.Op is StateOp && leaf.LeafName.EndsWith("running_var") ? RandomValues(random, size, "pos")
                : RandomValues(random, size, leaf.LeafName);
            feeds[leaf.LeafName] = new TensorValue(dims, data);
        }
        return feeds;
    }

    public static double[] RandomValues(Random random, int size, string name)
    {
        var data = new double[size];
        var order = Enumerable.Range(0, size).OrderBy(_ => random.Next()).ToArray();
        for (int i = 0; i < size; i++)
        {
            double t = (order[i] + 0.5) / size;
            data[i] = name.StartsWith("pos") ? 0.5 + 1.5 * t
                : name.StartsWith("prob") ? 0.1 + 0.8 * t
                : (random.Next(2) == 0 ? -1 : 1) * (0.1 + 0.9 * t);
        }
        return data;
    }

    /// <summary>Checks every gradient of the case; returns the worst norm-wise relative error.</summary>
    public static Result Run(GradCase c)
    {
        var (m, loss, wrt) = Prepare(c);
        var grads = m.Grad(loss, wrt);
        for (int i = 0; i < wrt.Length; i++)
            if (grads[i] is Tensor g) m.Auxiliary("grad" + i, g);
        var graph = m.Graph;
        Validator.Validate(graph);
        var feeds = MakeFeeds(graph, c.Batch, c.Classes);
        var analytic = Interpreter.Run(graph, feeds, c.Mode, seed: 7, step: 1);

        // Finite differences evaluate only what the loss needs.
        var forward = DeadCodeElimination.Run(GraphRewriter.Rewrite(graph, (_, _, _) => null, keepOutput: o => o.Name == "loss"));
        double Loss(Dictionary<string, TensorValue> f) => Interpreter.Run(forward, f, c.Mode, seed: 7, step: 1)["loss"].Data[0];

        double worst = 0;
        string worstLeaf = "";
        int count = 0;
        for (int i = 0; i < wrt.Length; i++)
        {
            string leafName = ((LeafOp)wrt[i].Node.Op).LeafName;
            var value = feeds[leafName];
            var numeric = new double[value.Length];
            for (int j = 0; j < value.Length; j++)
            {
                double saved = value.Data[j];
                value.Data[j] = saved + Step;
                double plus = Loss(feeds);
                value.Data[j] = saved - Step;
                double minus = Loss(feeds);
                value.Data[j] = saved;
                numeric[j] = (plus - minus) / (2 * Step);
            }
            var symbolic = grads[i] is null ? new double[value.Length] : analytic["grad" + i].Data;
            double error = RelativeError(symbolic, numeric);
            count++;
            if (error > worst)
            {
                worst = error;
                worstLeaf = leafName;
            }
        }
        return new Result { Graph = graph, Feeds = feeds, WorstRelativeError = worst, WorstLeaf = worstLeaf, Checked = count };
    }

    /// <summary>‖a − b‖₂ / max(‖a‖₂, ‖b‖₂), and the absolute difference when both are tiny.</summary>
    public static double RelativeError(double[] a, double[] b)
    {
        double diff = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            diff += (a[i] - b[i]) * (a[i] - b[i]);
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        double scale = Math.Max(Math.Sqrt(Math.Max(na, nb)), 1e-3);
        return Math.Sqrt(diff) / scale;
    }
}
