using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Graph.Emit.Tests;

/// <summary>Compiles emitted C# in-process and loads it into a collectible context (Graph.Runtime comes from the default one).</summary>
public static class RoslynCompiler
{
    private static readonly Lazy<MetadataReference[]> s_references = new(() =>
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator).ToList();
        paths.Add(typeof(Graph.Runtime.Models.ICompiledModel).Assembly.Location);
        return paths.Distinct().Where(File.Exists).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToArray();
    });

    public static Assembly Compile(IEnumerable<string> sources, string name = "Generated")
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var trees = sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, parse, path: $"gen{i}.cs")).ToArray();
        var compilation = CSharpCompilation.Create(name + Guid.NewGuid().ToString("N"), trees, s_references.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release,
                allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable, concurrentBuild: true));
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        var problems = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error
            || d.Severity == DiagnosticSeverity.Warning && d.Id != "CS1701" && d.Id != "CS1702").ToList();
        if (!result.Success || problems.Count > 0)
        {
            var text = string.Join("\n", problems.Take(30).Select(d =>
            {
                var line = d.Location.GetLineSpan();
                string src = d.Location.SourceTree?.GetText().Lines[line.StartLinePosition.Line].ToString().Trim() ?? "";
                return $"{d}\n    > {src}";
            }));
            throw new InvalidOperationException("Generated code does not compile cleanly:\n" + text);
        }
        stream.Position = 0;
        var context = new AssemblyLoadContext(name, isCollectible: true);
        return context.LoadFromStream(stream);
    }

    public static T Create<T>(Assembly assembly, string typeName, int maxBatch, ulong seed = 0) =>
        (T)Activator.CreateInstance(assembly.GetType(typeName, throwOnError: true)!, maxBatch, seed)!;
}
