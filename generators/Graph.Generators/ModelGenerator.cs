using Graph.Generators.Emission;
using Graph.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Graph.Generators;

/// <summary>Names of the pipeline's tracked steps (tests assert that they stay cached).</summary>
public static class TrackingNames
{
    /// <summary>A [Model] class checked and its definition evaluated (<see cref="ModelEvaluation"/>).</summary>
    public const string Evaluation = "Graph.Evaluation";

    /// <summary>The generated file of one model (<see cref="GeneratedModelSource"/>).</summary>
    public const string Emission = "Graph.Emission";

    /// <summary>The diagnostics of one model, reported by their own output.</summary>
    public const string Diagnostics = "Graph.Diagnostics";
}

/// <summary>
/// The [Model] generator, shaped like the .NET Regex generator: ForAttributeWithMetadataName →
/// a value-equatable model (plain data, no symbols or syntax) → emission, with diagnostics in their
/// own output. The transform evaluates the definition method at build time by interpreting its
/// IOperation tree against the generator's own copy of the Graph API.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModelGenerator : IIncrementalGenerator
{
    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var models = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                ModelExtractor.ModelAttributeName,
                predicate: static (node, _) => node is ClassDeclarationSyntax,
                transform: static (ctx, ct) => ModelExtractor.Extract(ctx, ct))
            .WithTrackingName(TrackingNames.Evaluation);

        var sources = models
            .Select(static (model, ct) => ModelSourceEmitter.Emit(model, ct))
            .WithTrackingName(TrackingNames.Emission);

        var diagnostics = models
            .Select(static (model, _) => model.Diagnostics)
            .WithTrackingName(TrackingNames.Diagnostics);

        context.RegisterSourceOutput(sources, static (spc, source) =>
        {
            if (source.Source is not null) spc.AddSource(source.HintName, source.Source);
            // Only emission's own failures; the evaluation's diagnostics have their own output.
            foreach (var diagnostic in source.Diagnostics) spc.ReportDiagnostic(diagnostic.ToDiagnostic());
        });

        context.RegisterSourceOutput(diagnostics, static (spc, list) =>
        {
            foreach (var diagnostic in list) spc.ReportDiagnostic(diagnostic.ToDiagnostic());
        });
    }
}
