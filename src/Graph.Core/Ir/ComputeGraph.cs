using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Ops;

namespace Graph.Ir;

/// <summary>What a graph output is for.</summary>
public enum OutputRole
{
    /// <summary>The model's prediction (what inference returns).</summary>
    Prediction,
    /// <summary>The scalar training loss.</summary>
    Loss,
    /// <summary>The gradient of the loss with respect to a parameter (<see cref="GraphOutput.Target"/>).</summary>
    Gradient,
    /// <summary>The new value of a state tensor after a training step (<see cref="GraphOutput.Target"/>).</summary>
    StateUpdate,
    /// <summary>Anything else the user asked to see.</summary>
    Auxiliary,
}

/// <summary>A named result of a graph.</summary>
public sealed class GraphOutput
{
    /// <summary>Creates an output.</summary>
    public GraphOutput(string name, Node node, OutputRole role, string? target = null)
    {
        Name = name;
        Node = node;
        Role = role;
        Target = target;
    }

    /// <summary>Unique output name ("output", "loss", "grad:fc1.weight").</summary>
    public string Name { get; }

    /// <summary>The node computing it.</summary>
    public Node Node { get; }

    /// <summary>What it is for.</summary>
    public OutputRole Role { get; }

    /// <summary>The parameter or state it belongs to, for gradients and state updates.</summary>
    public string? Target { get; }

    /// <summary>The same output computed by another node (passes use it).</summary>
    public GraphOutput WithNode(Node node) => new(Name, node, Role, Target);
}

/// <summary>
/// A computation graph: nodes in topological order (every node's inputs come before it)
/// and named outputs. Forward and backward live in the same graph.
/// </summary>
public sealed class ComputeGraph
{
    private readonly List<Node> _nodes = new();
    private readonly List<GraphOutput> _outputs = new();
    private readonly Dictionary<string, Node> _leaves = new(StringComparer.Ordinal);

    /// <summary>Creates an empty graph.</summary>
    public ComputeGraph(string name) => Name = name;

    /// <summary>The model's name.</summary>
    public string Name { get; }

    /// <summary>All nodes, inputs before users.</summary>
    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>Named results, in the order they were declared.</summary>
    public IReadOnlyList<GraphOutput> Outputs => _outputs;

    /// <summary>Feature and label inputs, in declaration order.</summary>
    public IEnumerable<Node> Inputs => _nodes.Where(n => n.Op is InputOp);

    /// <summary>Trainable parameters, in declaration order.</summary>
    public IEnumerable<Node> Parameters => _nodes.Where(n => n.Op is ParameterOp);

    /// <summary>State tensors, in declaration order.</summary>
    public IEnumerable<Node> States => _nodes.Where(n => n.Op is StateOp);

    /// <summary>The leaf named <paramref name="name"/>, or null.</summary>
    public Node? FindLeaf(string name) => _leaves.TryGetValue(name, out var node) ? node : null;

    /// <summary>The output named <paramref name="name"/>, or null.</summary>
    public GraphOutput? FindOutput(string name) => _outputs.FirstOrDefault(o => o.Name == name);

    /// <summary>
    /// Appends a node after inferring its type. Shape errors come back as a <see cref="ShapeException"/>
    /// naming the op, its operands' types and <paramref name="location"/>.
    /// </summary>
    public Node Add(Op op, IReadOnlyList<Node> inputs, string? name = null, SourceLocation? location = null)
    {
        location ??= SourceLocation.None;
        foreach (var input in inputs)
        {
            if (input.Id >= _nodes.Count || !ReferenceEquals(_nodes[input.Id], input))
                throw new ArgumentException($"{op.Name}: operand {input.Ref} belongs to another graph.");
        }
        TensorType type;
        try
        {
            type = op.InferType(inputs.Select(i => i.Type).ToArray());
        }
        catch (ShapeException e) when (e.Op is null)
        {
            throw new ShapeException(e.Reason, op.Name, string.Join(", ", inputs.Select(i => i.Type.ToString())), location);
        }
        if (op is LeafOp leaf)
        {
            if (_leaves.ContainsKey(leaf.LeafName))
                throw new ShapeException($"the name '{leaf.LeafName}' is already used by another input, parameter or state", op.Name, "", location);
            name ??= leaf.LeafName;
        }
        var node = new Node(_nodes.Count, op, inputs.ToArray(), type, name, location);
        _nodes.Add(node);
        if (op is LeafOp l) _leaves.Add(l.LeafName, node);
        return node;
    }

    /// <summary>Declares or replaces the output named <paramref name="output"/>.<see cref="GraphOutput.Name"/>.</summary>
    public void SetOutput(GraphOutput output)
    {
        if (output.Node.Id >= _nodes.Count || !ReferenceEquals(_nodes[output.Node.Id], output.Node))
            throw new ArgumentException($"Output '{output.Name}' refers to a node of another graph.");
        int existing = _outputs.FindIndex(o => o.Name == output.Name);
        if (existing >= 0) _outputs[existing] = output;
        else _outputs.Add(output);
    }

    /// <summary>Removes the output named <paramref name="name"/> if present.</summary>
    public void RemoveOutput(string name) => _outputs.RemoveAll(o => o.Name == name);

    /// <summary>The IR text, one line per node.</summary>
    public override string ToString() => GraphPrinter.Print(this);
}
