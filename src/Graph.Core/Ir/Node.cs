using System.Collections.Generic;
using Graph.Ops;

namespace Graph.Ir;

/// <summary>
/// One operation in a graph: an op (with its attributes), its input nodes, its inferred type,
/// an optional user-given name and the source line that built it. Nodes are immutable; passes
/// build new nodes rather than editing old ones.
/// </summary>
public sealed class Node
{
    internal Node(int id, Op op, Node[] inputs, TensorType type, string? name, SourceLocation location)
    {
        Id = id;
        Op = op;
        Inputs = inputs;
        Type = type;
        Name = name;
        Location = location;
    }

    /// <summary>Position in its graph's node list; inputs always have smaller ids.</summary>
    public int Id { get; }

    /// <summary>The operation and its attributes.</summary>
    public Op Op { get; }

    /// <summary>Operands, in order.</summary>
    public IReadOnlyList<Node> Inputs { get; }

    /// <summary>Element type and shape of the result.</summary>
    public TensorType Type { get; }

    /// <summary>Shape of the result.</summary>
    public Shape Shape => Type.Shape;

    /// <summary>Element type of the result.</summary>
    public DType DType => Type.DType;

    /// <summary>Name given by the user or by a layer helper ("fc1.weight"), or null.</summary>
    public string? Name { get; }

    /// <summary>Where the node was built in user code.</summary>
    public SourceLocation Location { get; }

    /// <summary>"%12" or "%fc1.weight" for leaves that carry names.</summary>
    public string Ref => Op is LeafOp leaf ? "%" + leaf.LeafName : "%" + Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override string ToString() => $"{Ref} = {Op.Name}";
}
