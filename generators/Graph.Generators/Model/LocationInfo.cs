using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Graph.Generators.Model;

/// <summary>
/// A source location as plain data. Pipeline models must not hold a <see cref="Location"/>: it roots
/// the syntax tree and compares by reference, so a model holding one is never "unchanged".
/// </summary>
public sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    /// <summary>Captures <paramref name="location"/> (null when it is not in source).</summary>
    public static LocationInfo? From(Location? location)
    {
        if (location is null || !location.IsInSource || location.SourceTree is null) return null;
        return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }

    /// <summary>Captures the location of <paramref name="node"/>.</summary>
    public static LocationInfo From(SyntaxNode node) => From(node.GetLocation())!;

    /// <summary>Recreates the Roslyn location for reporting.</summary>
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);
}
