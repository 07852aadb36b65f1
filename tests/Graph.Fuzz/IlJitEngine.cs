using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Ir;
using Graph.Jit;
using Graph.Runtime.Models;
using Graph.Runtime.Optimizers;

namespace Graph.Fuzz;

/// <summary>
/// The run-time IL JIT (<see cref="GraphJit.Compile"/>: DynamicMethods over the same lowered plan as the C# emitter),
/// driven exactly as <see cref="CSharpEngine"/> drives a generated model: eval and train output and loss, train
/// gradients, and the states after a zero-learning-rate step. Graphs the lowering or the IL emitter does not handle
/// (<see cref="NotSupportedException"/>) count as unsupported; the interpreter fallback is never used.
/// </summary>
public sealed class IlJitEngine : IEngine
{
    public string Name => "il-jit";

    public string? Unavailable => GraphJit.IsSupported ? null : "dynamic code is not supported in this process";

#pragma warning disable IL3050 // the fuzzer runs on the JIT-capable runtime; Unavailable says when it is not
    private static ICompiledModel Compile(FuzzCase c)
    {
        try { return GraphJit.Compile(c.Build(), c.Batch, c.Seed); }
        catch (NotSupportedException e) { throw new EngineUnsupportedException(e.Message, e); }
    }
#pragma warning restore IL3050

    public Dictionary<string, double[]> Run(FuzzCase c)
    {
        var model = Compile(c);
        var graph = c.Build().Graph;
        foreach (var node in graph.Nodes)
        {
            if (node.Op is not Graph.Ops.LeafOp leaf) continue;
            var value = c.Feeds[leaf.LeafName].Data;
            switch (node.Op)
            {
                case Graph.Ops.InputOp when node.DType == DType.Int32:
                {
                    var labels = model.LabelBuffer(leaf.LeafName);
                    for (int i = 0; i < value.Length; i++) labels[i] = (int)value[i];
                    break;
                }
                case Graph.Ops.InputOp: Fill(model.InputBuffer(leaf.LeafName), value); break;
                case Graph.Ops.ParameterOp: Fill(model.Parameter(leaf.LeafName).Span, value); break;
                case Graph.Ops.StateOp: Fill(model.State(leaf.LeafName).Span, value); break;
            }
        }
        var results = new Dictionary<string, double[]>(StringComparer.Ordinal);
        static double[] D(ReadOnlySpan<float> v) => v.ToArray().Select(x => (double)x).ToArray();
        var output = c.HasOutput ? new float[model.OutputSize * c.Batch] : null;
        foreach (bool training in new[] { false, true })
        {
            string prefix = training ? "train:" : "eval:";
            model.IsTraining = training;
            if (output is not null)
            {
                model.Predict(c.Batch, output);
                results[prefix + "output"] = D(output);
            }
            results[prefix + "loss"] = new double[] { model.Loss(c.Batch) };
        }
        model.IsTraining = false;
        float gradLoss = model.ComputeGradients(c.Batch);
        results["train:loss (ComputeGradients)"] = new double[] { gradLoss };
        foreach (var p in graph.Parameters)
        {
            string name = ((Graph.Ops.LeafOp)p.Op).LeafName;
            results["train:grad:" + name] = D(model.Gradient(name).Span);
        }
        var states = graph.Nodes.Where(n => n.Op is Graph.Ops.StateOp).Select(n => ((Graph.Ops.LeafOp)n.Op).LeafName).ToList();
        if (states.Count > 0)
        {
            model.Optimizer = new Sgd(0f);
            model.TrainStep(c.Batch);
            foreach (var s in states) results["train:state:" + s] = D(model.State(s).Span);
        }
        return results;
    }

    private static void Fill(Span<float> target, double[] values)
    {
        for (int i = 0; i < values.Length; i++) target[i] = (float)values[i];
    }
}
