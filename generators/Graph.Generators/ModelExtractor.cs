using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Graph.Builder;
using Graph.Generators.Evaluation;
using Graph.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Graph.Generators;

/// <summary>
/// The transform of the pipeline: checks a [Model] class and its definition method, evaluates the
/// definition, and returns plain data (<see cref="ModelEvaluation"/>). Never throws, except to let
/// cancellation through: any exception becomes GRAPH006.
/// </summary>
internal static class ModelExtractor
{
    public const string ModelAttributeName = "Graph.ModelAttribute";
    private const string ModelBuilderName = "Graph.Builder.ModelBuilder";
    private const string DefaultDefinitionName = "Define";

    /// <summary>
    /// Test hook: when set (on the thread running the generator), called at the start of each stage
    /// ("extract", "emit") so that tests can prove a crash becomes GRAPH006 and never escapes.
    /// </summary>
    [ThreadStatic] internal static Action<string>? FaultInjection;

    public static ModelEvaluation Extract(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var syntax = (TypeDeclarationSyntax)context.TargetNode;
        var target = TargetOf(type, syntax);
        try
        {
            FaultInjection?.Invoke("extract");
            return Evaluate(context, type, target, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            var error = DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, target.Location, target.DisplayName, e.GetType().FullName ?? e.GetType().Name, e.Message);
            return new ModelEvaluation(target, null, new[] { error }.ToEquatableArray());
        }
    }

    /// <summary>A model that produced no graph (the class is still emitted, empty).</summary>
    internal static ModelEvaluation Failed(ModelTarget target, params DiagnosticInfo[] diagnostics) =>
        new(target, null, diagnostics.ToEquatableArray());

    private static ModelEvaluation Evaluate(GeneratorAttributeSyntaxContext context, INamedTypeSymbol type, ModelTarget target, CancellationToken cancellationToken)
    {
        // Every part of the class and of each containing type must be partial to be reopened.
        for (var t = type; t is not null; t = t.ContainingType)
        {
            foreach (var reference in t.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax(cancellationToken) is TypeDeclarationSyntax declaration && !declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
                    return Failed(target, DiagnosticInfo.Create(DiagnosticDescriptors.ClassNotPartial, LocationInfo.From(declaration.Identifier.GetLocation()), t.Name)) with { CanReopen = false };
            }
        }
        for (var t = type; t is not null; t = t.ContainingType)
        {
            if (t.IsGenericType)
                return Failed(target, DiagnosticInfo.Create(DiagnosticDescriptors.GenericClassNotSupported, target.Location, type.Name)) with { CanReopen = false };
        }

        string definitionName = DefaultDefinitionName;
        foreach (var argument in context.Attributes[0].NamedArguments)
        {
            if (argument.Key == "Definition" && argument.Value.Value is string name) definitionName = name;
        }

        var definition = FindDefinition(type, definitionName, target, out var problem);
        if (definition is null) return Failed(target, problem!);

        var builder = new ModelBuilder(type.Name);
        try
        {
            new DefinitionEvaluator(context.SemanticModel.Compilation, cancellationToken).Run(definition, builder);
        }
        catch (CompileErrorsException)
        {
            // The compiler reports the errors; the generator stays silent and emits the empty class.
            return Failed(target);
        }
        catch (EvaluationException e)
        {
            return Failed(target, e.Diagnostic);
        }

        if (builder.Prediction is null)
            return Failed(target, DiagnosticInfo.Create(DiagnosticDescriptors.NoOutput, target.Location, type.Name));
        var diagnostics = new List<DiagnosticInfo>();
        if (builder.LossValue is null)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NoLoss, target.Location, type.Name));
        return new ModelEvaluation(target, new EvaluatedGraph(builder), diagnostics.ToEquatableArray());
    }

    private static IMethodSymbol? FindDefinition(INamedTypeSymbol type, string name, ModelTarget target, out DiagnosticInfo? problem)
    {
        problem = null;
        var candidates = type.GetMembers(name).OfType<IMethodSymbol>().Where(m => m.MethodKind == MethodKind.Ordinary).ToArray();
        if (candidates.Length == 0)
        {
            problem = DiagnosticInfo.Create(DiagnosticDescriptors.DefinitionMethodInvalid, target.Location,
                $"'{type.Name}' has no method '{name}'; declare 'static void {name}(ModelBuilder m)'");
            return null;
        }
        if (candidates.Length > 1)
        {
            problem = DiagnosticInfo.Create(DiagnosticDescriptors.DefinitionMethodInvalid, LocationInfo.From(candidates[1].Locations.FirstOrDefault()),
                $"'{type.Name}' has several methods named '{name}'; the definition method must not be overloaded");
            return null;
        }
        var method = candidates[0];
        var location = LocationInfo.From(method.Locations.FirstOrDefault());
        string? wrong =
            !method.IsStatic ? "must be static" :
            !method.ReturnsVoid ? "must return void" :
            method.IsGenericMethod ? "must not be generic" :
            method.Parameters.Length != 1 || method.Parameters[0].Type.ToDisplayString() != ModelBuilderName || method.Parameters[0].RefKind != RefKind.None
                ? "must take exactly one parameter of type Graph.Builder.ModelBuilder" :
            method.IsAsync ? "must not be async" :
            method.IsExtern || method.IsAbstract || (method.PartialImplementationPart is null && method.IsPartialDefinition) ? "must have a body" :
            null;
        if (wrong is not null)
        {
            problem = DiagnosticInfo.Create(DiagnosticDescriptors.DefinitionMethodInvalid, location,
                $"The definition method '{name}' {wrong}: declare it as 'static void {name}(ModelBuilder m)'");
            return null;
        }
        return method.PartialImplementationPart ?? method;
    }

    private static ModelTarget TargetOf(INamedTypeSymbol type, TypeDeclarationSyntax syntax)
    {
        string? ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() : null;
        var containing = new List<string>();
        for (var t = type.ContainingType; t is not null; t = t.ContainingType)
            containing.Insert(0, "partial " + Keyword(t) + " " + t.Name);
        var hint = string.Join(".", new[] { ns }.Concat(containing.Select(c => c.Split(' ').Last())).Append(type.Name).Where(s => s is not null));
        return new ModelTarget(ns, type.Name, Accessibility(type.DeclaredAccessibility), containing.ToEquatableArray(),
            hint + ".Model.g.cs", LocationInfo.From(syntax.Identifier.GetLocation()));
    }

    private static string Keyword(INamedTypeSymbol type) => type switch
    {
        { IsRecord: true, TypeKind: TypeKind.Struct } => "record struct",
        { IsRecord: true } => "record",
        { TypeKind: TypeKind.Struct } => "struct",
        { TypeKind: TypeKind.Interface } => "interface",
        _ => "class",
    };

    private static string Accessibility(Accessibility accessibility) => accessibility switch
    {
        Microsoft.CodeAnalysis.Accessibility.Public => "public",
        Microsoft.CodeAnalysis.Accessibility.Internal => "internal",
        Microsoft.CodeAnalysis.Accessibility.Private => "private",
        Microsoft.CodeAnalysis.Accessibility.Protected => "protected",
        Microsoft.CodeAnalysis.Accessibility.ProtectedOrInternal => "protected internal",
        Microsoft.CodeAnalysis.Accessibility.ProtectedAndInternal => "private protected",
        _ => "internal",
    };
}
