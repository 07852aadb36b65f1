using System;
using Graph.Generators.Model;

namespace Graph.Generators.Evaluation;

/// <summary>Stops evaluation with a diagnostic for the user (unsupported construct, shape error, ...).</summary>
internal sealed class EvaluationException : Exception
{
    public EvaluationException(DiagnosticInfo diagnostic) : base(diagnostic.Id) => Diagnostic = diagnostic;

    /// <summary>What to report.</summary>
    public DiagnosticInfo Diagnostic { get; }
}

/// <summary>
/// Stops evaluation silently: the definition (or a helper it calls) has compile errors, which the
/// compiler reports; a second, generator-made error would only add noise.
/// </summary>
internal sealed class CompileErrorsException : Exception
{
    public CompileErrorsException() : base("The model definition has compile errors.") { }
}
