using System;
using System.Collections.Generic;

namespace Graph.Fuzz;

/// <summary>The C# emitter's code compiled in-process with Roslyn (not available on this branch yet).</summary>
public sealed class CSharpEngine : IEngine
{
    public string Name => "csharp";
    public string? Unavailable => "the C# emitter (Graph.Emit.ModelEmitter) is not on this branch";
    public Dictionary<string, double[]> Run(FuzzCase c) => throw new EngineUnsupportedException(Unavailable!);
}
