using System;
using Graph.Interpretation;
using Graph.Ir;

namespace Graph.Passes;

/// <summary>The core passes in order, repeated until the graph stops shrinking.</summary>
public static class PassPipeline
{
    /// <summary>
    /// Specializes <paramref name="graph"/> for <paramref name="mode"/> (when given) and runs constant folding,
    /// algebraic simplification, CSE and dead-code elimination to a fixed point. With <paramref name="validate"/>,
    /// the validator runs after every pass and names the pass that broke an invariant.
    /// </summary>
    public static ComputeGraph Optimize(ComputeGraph graph, Mode? mode = null, bool validate = false)
    {
        ComputeGraph Step(ComputeGraph g, string name, Func<ComputeGraph, ComputeGraph> pass)
        {
            var result = pass(g);
            if (validate)
            {
                try { Validator.Validate(result); }
                catch (InvalidOperationException e) { throw new InvalidOperationException($"After {name}: {e.Message}", e); }
            }
            return result;
        }

        if (validate) Validator.Validate(graph);
        if (mode is Mode m) graph = Step(graph, "mode specialization", g => ModeSpecialization.Run(g, m));
        for (int round = 0; round < 10; round++)
        {
            int before = graph.Nodes.Count;
            string signature = GraphPrinter.Print(graph);
            graph = Step(graph, "constant folding", ConstantFolding.Run);
            graph = Step(graph, "algebraic simplification", AlgebraicSimplification.Run);
            graph = Step(graph, "common-subexpression elimination", CommonSubexpressionElimination.Run);
            graph = Step(graph, "dead-code elimination", DeadCodeElimination.Run);
            if (graph.Nodes.Count == before && GraphPrinter.Print(graph) == signature) break;
        }
        return graph;
    }
}
