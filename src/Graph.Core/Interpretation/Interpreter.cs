using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Interpretation;

/// <summary>Arithmetic the interpreter rounds to.</summary>
public enum Precision
{
    /// <summary>Every op computed and kept in double precision: the oracle.</summary>
    Float64,
    /// <summary>Every op computed in double, then rounded to float32, as a float32 engine would store it.</summary>
    Float32,
}

/// <summary>
/// The reference interpreter: evaluates any graph node by node with each op's reference
/// evaluation. It is the oracle every backend is checked against, so it favours obviousness over speed.
/// </summary>
public static class Interpreter
{
    /// <summary>
    /// Runs <paramref name="graph"/> and returns every output by name. <paramref name="feeds"/> supplies
    /// every input, parameter and state by name; the batch size is read from the inputs.
    /// </summary>
    public static Dictionary<string, TensorValue> Run(ComputeGraph graph, IReadOnlyDictionary<string, TensorValue> feeds,
        Mode mode = Mode.Train, Precision precision = Precision.Float64, ulong seed = 0, long step = 0)
    {
        var values = Evaluate(graph, feeds, mode, precision, seed, step);
        return graph.Outputs.ToDictionary(o => o.Name, o => values[o.Node.Id]);
    }

    /// <summary>Runs the graph and returns the value of every node, indexed by node id.</summary>
    public static TensorValue[] Evaluate(ComputeGraph graph, IReadOnlyDictionary<string, TensorValue> feeds,
        Mode mode = Mode.Train, Precision precision = Precision.Float64, ulong seed = 0, long step = 0)
    {
        int batch = BatchSize(graph, feeds);
        var context = new EvalContext(batch, mode, seed, step);
        var values = new TensorValue[graph.Nodes.Count];
        foreach (var node in graph.Nodes)
        {
            TensorValue value;
            if (node.Op is LeafOp leaf)
            {
                if (!feeds.TryGetValue(leaf.LeafName, out var fed))
                    throw new ArgumentException($"No value was fed for {leaf.Name} '{leaf.LeafName}' ({node.Type}).");
                var expected = node.Shape.Concrete(batch);
                if (!fed.Dims.SequenceEqual(expected))
                    throw new ArgumentException($"{leaf.Name} '{leaf.LeafName}' expects shape {Shape.Format(expected)}, got {Shape.Format(fed.Dims)}.");
                value = fed;
            }
            else
            {
                value = node.Op.Evaluate(node.Inputs.Select(i => values[i.Id]).ToArray(), context);
                var expected = node.Shape.Concrete(batch);
                if (!value.Dims.SequenceEqual(expected))
                    throw new InvalidOperationException($"{node.Op.Key} produced shape {Shape.Format(value.Dims)}, expected {Shape.Format(expected)}.");
            }
            values[node.Id] = precision == Precision.Float32 && node.DType != DType.Int32 ? RoundToFloat(value) : value;
        }
        return values;
    }

    private static int BatchSize(ComputeGraph graph, IReadOnlyDictionary<string, TensorValue> feeds)
    {
        int? batch = null;
        foreach (var node in graph.Nodes)
        {
            if (node.Op is not LeafOp leaf || !node.Shape.HasBatch || !feeds.TryGetValue(leaf.LeafName, out var fed)) continue;
            int axis = node.Shape.BatchAxis;
            if (fed.Rank != node.Shape.Rank)
                throw new ArgumentException($"{leaf.Name} '{leaf.LeafName}' expects rank {node.Shape.Rank} ({node.Shape}), got {Shape.Format(fed.Dims)}.");
            if (batch is int b && fed.Dims[axis] != b)
                throw new ArgumentException($"{leaf.Name} '{leaf.LeafName}' has batch size {fed.Dims[axis]}, but other inputs have {b}.");
            batch = fed.Dims[axis];
        }
        return batch ?? 1;
    }

    private static TensorValue RoundToFloat(TensorValue value)
    {
        var data = new double[value.Length];
        for (int i = 0; i < data.Length; i++) data[i] = (float)value.Data[i];
        return new TensorValue(value.Dims, data);
    }
}
