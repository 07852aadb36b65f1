namespace Graph.Runtime;

/// <summary>Facts about the runtime library that generated code and tools may query.</summary>
public static class RuntimeInfo
{
    /// <summary>Version of the layout contract between generated code and the runtime.</summary>
    public const int AbiVersion = 1;
}
