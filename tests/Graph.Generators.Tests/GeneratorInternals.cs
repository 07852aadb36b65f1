extern alias generator;

using System.Collections.Generic;
using System.Linq;

namespace Graph.Generators.Tests;

/// <summary>The generator's members the tests use, behind the extern alias in one place.</summary>
internal static class GeneratorInternals
{
    public static IEnumerable<string> AllDescriptorIds => generator::Graph.Generators.DiagnosticDescriptors.All.Select(d => d.Id);

    public const string EvaluationStep = generator::Graph.Generators.TrackingNames.Evaluation;
    public const string EmissionStep = generator::Graph.Generators.TrackingNames.Emission;
    public const string DiagnosticsStep = generator::Graph.Generators.TrackingNames.Diagnostics;

    /// <summary>Makes the generator throw at <paramref name="stage"/> ("extract" or "emit") on this thread while the scope lives.</summary>
    public static System.IDisposable InjectFault(string stage)
    {
        generator::Graph.Generators.ModelExtractor.FaultInjection = s =>
        {
            if (s == stage) throw new System.InvalidOperationException("injected fault at " + s);
        };
        return new Reset();
    }

    private sealed class Reset : System.IDisposable
    {
        public void Dispose() => generator::Graph.Generators.ModelExtractor.FaultInjection = null;
    }
}
