using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Graph.Generators;

/// <summary>
/// Every diagnostic the [Model] generator reports. IDs are stable: never renumber or reuse one;
/// add new IDs to AnalyzerReleases.Unshipped.md.
/// </summary>
public static class DiagnosticDescriptors
{
    private const string Category = "Graph.Model";

    /// <summary>GRAPH001: the [Model] class (or a type containing it) is not partial.</summary>
    public static readonly DiagnosticDescriptor ClassNotPartial = new(
        "GRAPH001",
        "Model class must be partial",
        "'{0}' must be declared partial so that the generator can add the model's code to it",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>GRAPH002: the definition method is missing or has the wrong signature.</summary>
    public static readonly DiagnosticDescriptor DefinitionMethodInvalid = new(
        "GRAPH002",
        "Model definition method is missing or malformed",
        "{0}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "The definition method must be 'static void Define(ModelBuilder m)' (or the name given by [Model(Definition = ...)]): static, non-generic, exactly one Graph.Builder.ModelBuilder parameter, returning void, with a body.");

    /// <summary>GRAPH003: a construct the build-time evaluator does not support.</summary>
    public static readonly DiagnosticDescriptor UnsupportedConstruct = new(
        "GRAPH003",
        "Unsupported construct in a model definition",
        "The model definition cannot be evaluated at build time: {0}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: "Model definitions are evaluated at build time. They may use locals, literals, constants, arithmetic, strings, arrays, for/foreach/while loops with bounds known at build time, if/ternary, static helper methods, static readonly fields and static properties of the same project, System.Math and the Graph API.");

    /// <summary>GRAPH004: a shape rule was violated, reported at the user's call that built the op.</summary>
    public static readonly DiagnosticDescriptor ShapeError = new(
        "GRAPH004",
        "Shape error in model definition",
        "{0}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>GRAPH005: the definition declares no prediction (m.Output).</summary>
    public static readonly DiagnosticDescriptor NoOutput = new(
        "GRAPH005",
        "Model declares no output",
        "The definition of '{0}' never calls Output(...): a model needs a prediction",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>GRAPH006: a bug in the generator. It never throws; any exception ends up here.</summary>
    public static readonly DiagnosticDescriptor InternalError = new(
        "GRAPH006",
        "Internal error in the Graph generator",
        "The Graph generator failed on '{0}' ({1}: {2}); this is a bug in the generator, please report it",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>GRAPH007: a loop ran more iterations than the evaluator allows (likely an infinite loop).</summary>
    public static readonly DiagnosticDescriptor LoopLimitExceeded = new(
        "GRAPH007",
        "Loop exceeded the build-time iteration limit",
        "This loop ran more than {0} iterations while evaluating the model definition; its bounds must be small and known at build time",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>GRAPH008: the definition declares no loss, so no training code can be generated.</summary>
    public static readonly DiagnosticDescriptor NoLoss = new(
        "GRAPH008",
        "Model declares no loss",
        "The definition of '{0}' never calls Loss(...): only inference code is generated",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    /// <summary>GRAPH009: the model class is generic (or nested in a generic type).</summary>
    public static readonly DiagnosticDescriptor GenericClassNotSupported = new(
        "GRAPH009",
        "Generic model classes are not supported",
        "'{0}' is generic or nested in a generic type; a [Model] class must be a non-generic class",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>GRAPH010: helper calls nested deeper than the evaluator allows (likely unbounded recursion).</summary>
    public static readonly DiagnosticDescriptor CallDepthExceeded = new(
        "GRAPH010",
        "Helper calls nested too deeply",
        "Calling '{0}' here nests helper calls more than {1} deep while evaluating the model definition (unbounded recursion?)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>GRAPH011: the definition would throw at run time (argument error, division by zero, explicit throw).</summary>
    public static readonly DiagnosticDescriptor DefinitionThrows = new(
        "GRAPH011",
        "Model definition throws",
        "Evaluating the model definition throws {0} here: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>GRAPH012: the Graph API the user compiles against has a member the generator's copy lacks.</summary>
    public static readonly DiagnosticDescriptor ApiVersionMismatch = new(
        "GRAPH012",
        "Graph API version mismatch",
        "The Graph generator has no '{0}'; the referenced Graph.Core and the generator come from different versions",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>All descriptors, in ID order.</summary>
    public static IReadOnlyList<DiagnosticDescriptor> All { get; } = new[]
    {
        ClassNotPartial, DefinitionMethodInvalid, UnsupportedConstruct, ShapeError, NoOutput, InternalError,
        LoopLimitExceeded, NoLoss, GenericClassNotSupported, CallDepthExceeded, DefinitionThrows, ApiVersionMismatch,
    };

    private static readonly Dictionary<string, DiagnosticDescriptor> s_byId = All.ToDictionary(d => d.Id);

    /// <summary>The descriptor with <paramref name="id"/>.</summary>
    public static DiagnosticDescriptor ById(string id) => s_byId[id];
}
