namespace Graph.Ir;

/// <summary>Where in the user's code a node was built (from CallerFilePath/CallerLineNumber).</summary>
public sealed class SourceLocation
{
    /// <summary>Creates a location.</summary>
    public SourceLocation(string file, int line)
    {
        File = file ?? "";
        Line = line;
    }

    /// <summary>Unknown location.</summary>
    public static SourceLocation None { get; } = new("", 0);

    /// <summary>Full path of the source file, as the compiler saw it.</summary>
    public string File { get; }

    /// <summary>1-based line.</summary>
    public int Line { get; }

    /// <summary>True when file and line are known.</summary>
    public bool IsKnown => File.Length > 0 && Line > 0;

    /// <summary>"Model.cs:12", file name only so messages stay short and stable.</summary>
    public override string ToString() => IsKnown ? $"{FileName}:{Line}" : "<unknown>";

    /// <summary>The file name without its directory (either separator, whatever the host OS).</summary>
    public string FileName => File.Substring(File.LastIndexOfAny(new[] { '/', '\\' }) + 1);
}
