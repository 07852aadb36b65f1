using System.Linq;
using System.Text;
using Graph.Ops;

namespace Graph.Ir;

/// <summary>
/// Prints a graph as stable text, one line per node, in the spirit of a jaxpr:
/// <code>
/// graph mlp
///   input  %x : f32[N,784]
///   param  %fc1.weight : f32[784,128] = torch_default(fan_in=784)
///   %5 : f32[N,128] = matmul(%x, %fc1.weight)    # fc1
///   ...
///   out loss = %14
/// </code>
/// Used in errors, tests (snapshots) and docs; it never includes paths, hashes of memory or anything machine-dependent.
/// </summary>
public static class GraphPrinter
{
    /// <summary>Prints <paramref name="graph"/>; with <paramref name="withLocations"/>, appends "file:line" to each node.</summary>
    public static string Print(ComputeGraph graph, bool withLocations = false)
    {
        var sb = new StringBuilder();
        sb.Append("graph ").Append(graph.Name).Append('\n');
        foreach (var node in graph.Nodes) sb.Append(PrintNode(node, withLocations)).Append('\n');
        foreach (var output in graph.Outputs)
        {
            sb.Append("  out ").Append(output.Name).Append(" = ").Append(output.Node.Ref);
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>One node's line (without the trailing newline).</summary>
    public static string PrintNode(Node node, bool withLocation = false)
    {
        var sb = new StringBuilder("  ");
        switch (node.Op)
        {
            case InputOp input:
                sb.Append(input.Role == InputRole.Label ? "label  " : "input  ").Append(node.Ref).Append(" : ").Append(node.Type);
                break;
            case ParameterOp param:
                sb.Append("param  ").Append(node.Ref).Append(" : ").Append(node.Type).Append(" = ").Append(param.Init);
                break;
            case StateOp state:
                sb.Append("state  ").Append(node.Ref).Append(" : ").Append(node.Type).Append(" = ").Append(state.Init);
                break;
            default:
                sb.Append(node.Ref).Append(" : ").Append(node.Type).Append(" = ").Append(node.Op.Key);
                sb.Append('(').Append(string.Join(", ", node.Inputs.Select(i => i.Ref))).Append(')');
                if (node.Name is not null) sb.Append("    # ").Append(node.Name);
                break;
        }
        if (withLocation && node.Location.IsKnown) sb.Append("    @ ").Append(node.Location);
        return sb.ToString();
    }
}
