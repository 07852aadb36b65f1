using Graph.Interpretation;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Passes;

/// <summary>
/// Resolves every mode choice for one mode: training keeps the first operand of each mode_select,
/// evaluation the second and drops the state updates (evaluation never changes running statistics).
/// </summary>
public static class ModeSpecialization
{
    /// <summary>Runs the pass.</summary>
    public static ComputeGraph Run(ComputeGraph graph, Mode mode) =>
        GraphRewriter.Rewrite(graph,
            (old, inputs, _) => old.Op is ModeSelectOp ? inputs[mode == Mode.Train ? 0 : 1] : null,
            keepOutput: o => mode == Mode.Train || o.Role != OutputRole.StateUpdate);
}
