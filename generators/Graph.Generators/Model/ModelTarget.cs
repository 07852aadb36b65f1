using System.Collections.Generic;
using System.Linq;
using System.Text;
using Graph.Builder;
using Graph.Ir;

namespace Graph.Generators.Model;

/// <summary>
/// Where the generated code goes: the [Model] class and everything needed to reopen it as a partial
/// declaration. Plain data only (no symbols), so it compares by value.
/// </summary>
/// <param name="Namespace">The class's namespace, or null for the global namespace.</param>
/// <param name="ClassName">The class's name.</param>
/// <param name="Accessibility">The class's declared accessibility as C# keywords ("public", "internal", "protected internal", ...).</param>
/// <param name="ContainingTypes">Declarations of the types the class is nested in, outermost first, as "partial class Outer" / "partial struct S" / "partial record R".</param>
/// <param name="HintName">The generated file's hint name.</param>
/// <param name="Location">The class identifier, where class-level diagnostics go.</param>
public sealed record ModelTarget(
    string? Namespace,
    string ClassName,
    string Accessibility,
    EquatableArray<string> ContainingTypes,
    string HintName,
    LocationInfo? Location)
{
    /// <summary>"Ns.Outer.Mlp", for messages.</summary>
    public string DisplayName
    {
        get
        {
            var sb = new StringBuilder();
            if (Namespace is not null) sb.Append(Namespace).Append('.');
            foreach (var containing in ContainingTypes) sb.Append(containing.Split(' ').Last()).Append('.');
            return sb.Append(ClassName).ToString();
        }
    }
}

/// <summary>
/// The result of evaluating a model's definition: the graph (null when evaluation failed or stayed
/// silent because the user's code does not compile) and the diagnostics. <paramref name="CanReopen"/>
/// is false when the class cannot take a generated part at all (not partial, generic): then nothing is emitted.
/// </summary>
public sealed record ModelEvaluation(ModelTarget Target, EvaluatedGraph? Graph, EquatableArray<DiagnosticInfo> Diagnostics, bool CanReopen = true);

/// <summary>
/// The builder that evaluating a definition produced, compared by a canonical text of its graph
/// (every node with its op key, type, name and full source location, and every output with its role).
/// Two builders with the same fingerprint emit the same code, so the emission step stays cached
/// after edits that do not change the model, while the builder itself never has to be value-equatable.
/// </summary>
public sealed class EvaluatedGraph : System.IEquatable<EvaluatedGraph>
{
    /// <summary>Wraps <paramref name="builder"/> and computes its fingerprint.</summary>
    public EvaluatedGraph(ModelBuilder builder)
    {
        Builder = builder;
        Text = GraphPrinter.Print(builder.Graph, withLocations: true);
        Fingerprint = ComputeFingerprint(builder.Graph, Text);
    }

    /// <summary>The evaluated builder (hand it to the emitter; do not mutate it).</summary>
    public ModelBuilder Builder { get; }

    /// <summary>The printed IR with "@ file:line" locations.</summary>
    public string Text { get; }

    /// <summary>The canonical text equality is based on.</summary>
    public string Fingerprint { get; }

    private static string ComputeFingerprint(ComputeGraph graph, string printed)
    {
        // The printer shows file names only; full paths and output roles matter to an emitter too.
        var sb = new StringBuilder(printed);
        foreach (var path in graph.Nodes.Select(n => n.Location.File).Distinct().OrderBy(p => p, System.StringComparer.Ordinal))
            sb.Append("file ").Append(path).Append('\n');
        foreach (var output in graph.Outputs)
            sb.Append("role ").Append(output.Name).Append(' ').Append(output.Role).Append(' ').Append(output.Target).Append('\n');
        return sb.ToString();
    }

    /// <inheritdoc />
    public bool Equals(EvaluatedGraph? other) => other is not null && Fingerprint == other.Fingerprint;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as EvaluatedGraph);

    /// <inheritdoc />
    public override int GetHashCode() => Fingerprint.GetHashCode();
}

/// <summary>A generated file (null when the class cannot be reopened) and the diagnostics of producing it (emission failures only).</summary>
public sealed record GeneratedModelSource(string HintName, string? Source, EquatableArray<DiagnosticInfo> Diagnostics);
