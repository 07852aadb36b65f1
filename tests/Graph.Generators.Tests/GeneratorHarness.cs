extern alias generator;

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using ModelGenerator = generator::Graph.Generators.ModelGenerator;

namespace Graph.Generators.Tests;

/// <summary>Compiles user sources with the [Model] generator through <see cref="CSharpGeneratorDriver"/>.</summary>
internal static class GeneratorHarness
{
    /// <summary>The path every test's main source file has (so CallerFilePath values are stable).</summary>
    public const string ModelPath = "/models/Models.cs";

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    // The framework's own assemblies; never the test's other dependencies, where the generator
    // (with its linked copy of the core) would clash with Graph.Core.
    public static readonly Lazy<ImmutableArray<MetadataReference>> FrameworkReferences = new(() =>
    {
        string frameworkDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        return ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => string.Equals(Path.GetDirectoryName(p), frameworkDir, StringComparison.Ordinal))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    });

    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(() =>
        FrameworkReferences.Value.Add(MetadataReference.CreateFromFile(typeof(global::Graph.Builder.ModelBuilder).Assembly.Location)));

    /// <summary>Runs the generator on <paramref name="source"/> compiled against the framework and <paramref name="references"/> only.</summary>
    public static GeneratorRun RunWith(string source, params MetadataReference[] references)
    {
        var compilation = CSharpCompilation.Create("UserModels",
            new[] { CSharpSyntaxTree.ParseText(source, ParseOptions, ModelPath) },
            FrameworkReferences.Value.AddRange(references),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var driver = CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        return new GeneratorRun(driver, compilation, output, diagnostics);
    }

    public static CSharpCompilation Compile(string source, params string[] moreSources)
    {
        var trees = new[] { CSharpSyntaxTree.ParseText(source, ParseOptions, ModelPath) }
            .Concat(moreSources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, $"/models/More{i}.cs")));
        return CSharpCompilation.Create("UserModels", trees, s_references.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
    }

    public static GeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(
            new[] { new ModelGenerator().AsSourceGenerator() },
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    public static GeneratorRun Run(string source, params string[] moreSources)
    {
        var compilation = Compile(source, moreSources);
        var driver = CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        return new GeneratorRun(driver, compilation, output, diagnostics);
    }
}

internal sealed record GeneratorRun(GeneratorDriver Driver, Compilation Input, Compilation Output, ImmutableArray<Diagnostic> Diagnostics)
{
    public GeneratorDriverRunResult RunResult => Driver.GetRunResult();

    /// <summary>The generator's own diagnostics, plus errors of compiling the user code with the generated code.</summary>
    public IReadOnlyList<Diagnostic> AllErrors =>
        Diagnostics.Concat(Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error)).ToList();

    public string GeneratedSource(string hintName) =>
        RunResult.Results.Single().GeneratedSources.Single(s => s.HintName == hintName).SourceText.ToString();

    /// <summary>Emits the output compilation and loads it (fails the test on compile errors).</summary>
    public Assembly Load()
    {
        using var stream = new MemoryStream();
        var result = Output.Emit(stream);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        return Assembly.Load(stream.ToArray());
    }
}
