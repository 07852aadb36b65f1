using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Graph.Generators.Tests;

/// <summary>Caching across edits, determinism, and the never-throw policy.</summary>
public class PipelineTests
{
    private const string Model = """
        using Graph; using Graph.Builder;
        [Model]
        public partial class Mlp
        {
            static Tensor Layer(Tensor x, int units, string name) => x.Dense(units, name).Relu();

            static void Define(ModelBuilder m)
            {
                var x = m.Input("x", 784);
                var y = m.Labels("y", classes: 10);
                var logits = Layer(x, 128, "fc1").Dense(10, "fc2");
                m.Output(logits);
                m.Loss(logits.SoftmaxCrossEntropy(y));
            }
        }
        """;

    [Theory]
    [InlineData("another class")]
    [InlineData("a trailing comment")]
    public void An_unrelated_edit_leaves_the_outputs_cached(string edit)
    {
        var compilation = GeneratorHarness.Compile(Model);
        var driver = GeneratorHarness.CreateDriver().RunGenerators(compilation);

        Compilation edited = edit == "another class"
            ? compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("public class Unrelated { public int Value => 42; }", GeneratorHarness.ParseOptions, "/models/Unrelated.cs"))
            : compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.First(),
                CSharpSyntaxTree.ParseText(Model + "\n// a comment\n", GeneratorHarness.ParseOptions, GeneratorHarness.ModelPath));
        driver = driver.RunGenerators(edited);

        var result = driver.GetRunResult().Results.Single();
        Assert.Single(result.GeneratedSources);
        foreach (var step in new[] { GeneratorInternals.EvaluationStep, GeneratorInternals.EmissionStep, GeneratorInternals.DiagnosticsStep })
        {
            var outputs = result.TrackedSteps[step].SelectMany(s => s.Outputs).ToList();
            Assert.NotEmpty(outputs);
            Assert.All(outputs, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {o.Reason}"));
        }
        var sourceOutputs = result.TrackedOutputSteps["SourceOutput"].SelectMany(s => s.Outputs).ToList();
        Assert.NotEmpty(sourceOutputs);
        Assert.All(sourceOutputs, o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void Editing_the_model_regenerates_it()
    {
        var compilation = GeneratorHarness.Compile(Model);
        var driver = GeneratorHarness.CreateDriver().RunGenerators(compilation);
        var edited = compilation.ReplaceSyntaxTree(compilation.SyntaxTrees.First(),
            CSharpSyntaxTree.ParseText(Model.Replace("128", "256"), GeneratorHarness.ParseOptions, GeneratorHarness.ModelPath));
        var result = driver.RunGenerators(edited).GetRunResult().Results.Single();
        Assert.Contains(result.TrackedSteps[GeneratorInternals.EmissionStep].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains("f32[784,256]", result.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void Output_is_deterministic()
    {
        string First() => GeneratorHarness.Run(Model).GeneratedSource("Mlp.Model.g.cs");
        Assert.Equal(First(), First());
    }

    [Theory]
    [InlineData("extract")]
    [InlineData("emit")]
    public void An_internal_failure_becomes_GRAPH006_and_never_escapes(string stage)
    {
        GeneratorRun run;
        using (GeneratorInternals.InjectFault(stage))
            run = GeneratorHarness.Run(Model);

        var result = run.RunResult.Results.Single();
        Assert.Null(result.Exception);
        var d = Assert.Single(run.Diagnostics);
        Assert.Equal("GRAPH006", d.Id);
        Assert.Contains("System.InvalidOperationException: injected fault at " + stage, d.GetMessage());
        Assert.Equal(3, d.Location.GetLineSpan().StartLinePosition.Line + 1);
        // The class is still emitted, so code using its members keeps compiling.
        Assert.Contains("partial class Mlp", Assert.Single(result.GeneratedSources).SourceText.ToString());
    }
}
