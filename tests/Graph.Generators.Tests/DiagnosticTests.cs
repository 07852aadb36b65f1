using System.Linq;
using Microsoft.CodeAnalysis;

namespace Graph.Generators.Tests;

/// <summary>One test per diagnostic: its ID and where it is reported (1-based line and column).</summary>
public class DiagnosticTests
{
    private const string Usings = "using System; using Graph; using Graph.Builder;\n";

    /// <summary>Runs the generator on <paramref name="body"/> (placed after a one-line using header) and returns its single diagnostic.</summary>
    private static Diagnostic Single(string body, string id, bool emitsClass = true)
    {
        var run = GeneratorHarness.Run(Usings + body);
        var diagnostic = Assert.Single(run.Diagnostics, d => true);
        Assert.True(diagnostic.Id == id, diagnostic.ToString());
        Assert.Equal(id, diagnostic.Id);
        // Whatever failed, the class is still emitted, so the user's code sees no cascade of missing members.
        // (A class that cannot be reopened, not partial or generic, gets nothing.)
        Assert.Equal(emitsClass ? 1 : 0, run.RunResult.Results.Single().GeneratedSources.Length);
        Assert.Empty(run.Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id.StartsWith("CS")));
        return diagnostic;
    }

    private static void AssertAt(Diagnostic diagnostic, int line, int column)
    {
        var position = diagnostic.Location.GetLineSpan().StartLinePosition;
        Assert.Equal((line, column), (position.Line + 1, position.Character + 1));
        Assert.Equal(GeneratorHarness.ModelPath, diagnostic.Location.GetLineSpan().Path);
    }

    private const string ValidBody = """
            {
                var x = m.Input("x", 4);
                var y = m.Targets("y", 1);
                var p = x.Dense(1);
                m.Output(p);
                m.Loss(p.MseLoss(y));
            }
        """;

    [Fact]
    public void GRAPH001_class_not_partial()
    {
        var d = Single("[Model]\npublic class Plain\n{\n    static void Define(ModelBuilder m)\n" + ValidBody + "\n}\n", "GRAPH001", emitsClass: false);
        AssertAt(d, 3, 14);
        Assert.Contains("'Plain' must be declared partial", d.GetMessage());
    }

    [Fact]
    public void GRAPH001_containing_type_not_partial()
    {
        var d = Single("public class Outer\n{\n    [Model]\n    public partial class Inner\n    {\n        static void Define(ModelBuilder m)\n" + ValidBody + "\n    }\n}\n", "GRAPH001", emitsClass: false);
        AssertAt(d, 2, 14);
    }

    [Fact]
    public void GRAPH002_definition_method_missing()
    {
        var d = Single("[Model]\npublic partial class NoDefine\n{\n}\n", "GRAPH002");
        AssertAt(d, 3, 22);
        Assert.Contains("has no method 'Define'", d.GetMessage());
    }

    [Fact]
    public void GRAPH002_definition_method_not_static()
    {
        var d = Single("[Model]\npublic partial class Instance\n{\n    void Define(ModelBuilder m)\n" + ValidBody + "\n}\n", "GRAPH002");
        AssertAt(d, 5, 10);
        Assert.Contains("must be static", d.GetMessage());
    }

    [Fact]
    public void GRAPH002_definition_method_with_wrong_parameters()
    {
        var d = Single("[Model]\npublic partial class TwoArgs\n{\n    static void Define(ModelBuilder m, int width) { }\n}\n", "GRAPH002");
        AssertAt(d, 5, 17);
        Assert.Contains("exactly one parameter of type Graph.Builder.ModelBuilder", d.GetMessage());
    }

    [Fact]
    public void GRAPH003_unsupported_call()
    {
        var d = Single("""
            [Model]
            public partial class Chatty
            {
                static void Define(ModelBuilder m)
                {
                    var x = m.Input("x", 4);
                    Console.WriteLine("building");
                }
            }
            """, "GRAPH003");
        AssertAt(d, 8, 17);
        Assert.Contains("call to 'System.Console.WriteLine(string?)'", d.GetMessage());
    }

    [Fact]
    public void GRAPH003_lambda()
    {
        var d = Single("""
            [Model]
            public partial class Lambda
            {
                static void Define(ModelBuilder m)
                {
                    Func<int, int> twice = v => v * 2;
                }
            }
            """, "GRAPH003");
        AssertAt(d, 7, 32);
        Assert.Contains("a lambda", d.GetMessage());
    }

    [Fact]
    public void GRAPH003_mutable_static_field()
    {
        var d = Single("""
            [Model]
            public partial class Mutable
            {
                static int s_width = 4;
                static void Define(ModelBuilder m)
                {
                    var x = m.Input("x", s_width);
                }
            }
            """, "GRAPH003");
        AssertAt(d, 8, 30);
        Assert.Contains("field 'Mutable.s_width'", d.GetMessage());
    }

    [Fact]
    public void GRAPH004_shape_error_at_the_users_call()
    {
        var d = Single("""
            [Model]
            public partial class BadShapes
            {
                static void Define(ModelBuilder m)
                {
                    var x = m.Input("x", 4);
                    var h = x.Dense(8).Relu().Conv2d(4, 3);
                }
            }
            """, "GRAPH004");
        // The failing link of the chain, not the start of the statement.
        AssertAt(d, 8, 35);
        Assert.Contains("conv2d expects [N, C, H, W], got [N,8]", d.GetMessage());
        Assert.Contains("(at Models.cs:8)", d.GetMessage());
    }

    [Fact]
    public void GRAPH004_shape_error_inside_a_helper_is_reported_at_the_helper_line_with_the_call_site()
    {
        var d = Single("""
            [Model]
            public partial class BadHelper
            {
                static Tensor Head(Tensor features) =>
                    features.Dense(10, "head");

                static void Define(ModelBuilder m)
                {
                    var x = m.Input("x", 1, 8, 8);
                    var h = x.Conv2d(4, 3);
                    var logits = Head(h);
                }
            }
            """, "GRAPH004");
        AssertAt(d, 6, 18);
        Assert.Contains("dense expects [N, features], got [N,4,6,6]", d.GetMessage());
        var callSite = Assert.Single(d.AdditionalLocations);
        Assert.Equal(11, callSite.GetLineSpan().StartLinePosition.Line);
    }

    [Fact]
    public void GRAPH004_shape_error_from_an_operator()
    {
        var d = Single("""
            [Model]
            public partial class BadAdd
            {
                static void Define(ModelBuilder m)
                {
                    var a = m.Input("a", 3);
                    var b = m.Input("b", 4);
                    var c = a + b;
                }
            }
            """, "GRAPH004");
        AssertAt(d, 9, 17);
    }

    [Fact]
    public void GRAPH005_no_output()
    {
        var d = Single("""
            [Model]
            public partial class Silent
            {
                static void Define(ModelBuilder m)
                {
                    var x = m.Input("x", 4);
                }
            }
            """, "GRAPH005");
        AssertAt(d, 3, 22);
    }

    [Fact]
    public void GRAPH007_loop_limit()
    {
        var d = Single("""
            [Model]
            public partial class Forever
            {
                static void Define(ModelBuilder m)
                {
                    int i = 0;
                    while (true) { i++; }
                }
            }
            """, "GRAPH007");
        AssertAt(d, 8, 9);
    }

    [Fact]
    public void GRAPH008_no_loss_is_a_warning_and_the_model_is_still_generated()
    {
        var run = GeneratorHarness.Run(Usings + """
            [Model]
            public partial class InferenceOnly
            {
                static void Define(ModelBuilder m) => m.Output(m.Input("x", 4).Dense(2));
            }
            """);
        var d = Assert.Single(run.Diagnostics);
        Assert.Equal("GRAPH008", d.Id);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        AssertAt(d, 3, 22);
        Assert.Contains("matmul", run.GeneratedSource("InferenceOnly.Model.g.cs"));
    }

    [Fact]
    public void GRAPH009_generic_class()
    {
        var d = Single("[Model]\npublic partial class Generic<T>\n{\n    static void Define(ModelBuilder m)\n" + ValidBody + "\n}\n", "GRAPH009", emitsClass: false);
        AssertAt(d, 3, 22);
    }

    [Fact]
    public void GRAPH010_unbounded_recursion()
    {
        var d = Single("""
            [Model]
            public partial class Recursive
            {
                static Tensor Deeper(Tensor x) => Deeper(x.Relu());

                static void Define(ModelBuilder m) => m.Output(Deeper(m.Input("x", 4)));
            }
            """, "GRAPH010");
        AssertAt(d, 5, 39);
    }

    [Fact]
    public void GRAPH011_definition_throws()
    {
        var d = Single("""
            [Model]
            public partial class Thrower
            {
                static void Define(ModelBuilder m)
                {
                    int layers = 0;
                    int width = 64 / layers;
                }
            }
            """, "GRAPH011");
        AssertAt(d, 8, 21);
        Assert.Contains("DivideByZeroException", d.GetMessage());
    }

    [Fact]
    public void GRAPH011_argument_error_from_the_graph_api()
    {
        var d = Single("""
            [Model]
            public partial class BatchParameter
            {
                static void Define(ModelBuilder m)
                {
                    var w = m.Parameter("w", new[] { -1, 3 }, Init.Zeros);
                }
            }
            """, "GRAPH011");
        AssertAt(d, 7, 19);
        Assert.Contains("ArgumentException", d.GetMessage());
    }

    [Fact]
    public void GRAPH011_explicit_throw()
    {
        var d = Single("""
            [Model]
            public partial class ExplicitThrow
            {
                const int Depth = 0;
                static void Define(ModelBuilder m)
                {
                    if (Depth < 1) throw new ArgumentOutOfRangeException("Depth must be positive");
                }
            }
            """, "GRAPH011");
        AssertAt(d, 8, 24);
        Assert.Contains("ArgumentOutOfRangeException", d.GetMessage());
    }

    [Fact]
    public void GRAPH012_api_the_generator_does_not_know()
    {
        // A "Graph.Core" from another version, with a member the generator's copy lacks.
        var otherCore = Microsoft.CodeAnalysis.CSharp.CSharpCompilation.Create("Graph.Core",
            new[] { Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText("""
                namespace Graph { [System.AttributeUsage(System.AttributeTargets.Class)] public sealed class ModelAttribute : System.Attribute { public string Definition { get; set; } = "Define"; } }
                namespace Graph.Builder
                {
                    public sealed class ModelBuilder { }
                    public static class Experimental { public static void Magic(ModelBuilder m) { } }
                }
                """) },
            GeneratorHarness.FrameworkReferences.Value,
            new Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var run = GeneratorHarness.RunWith(Usings + """
            [Model]
            public partial class FromTheFuture
            {
                static void Define(ModelBuilder m)
                {
                    Experimental.Magic(m);
                }
            }
            """, otherCore.ToMetadataReference());
        var d = Assert.Single(run.Diagnostics);
        Assert.Equal("GRAPH012", d.Id);
        AssertAt(d, 7, 22);
        Assert.Contains("Graph.Builder.Experimental.Magic(Graph.Builder.ModelBuilder)", d.GetMessage());
    }

    [Fact]
    public void Compile_errors_in_the_definition_keep_the_generator_silent()
    {
        var run = GeneratorHarness.Run(Usings + """
            [Model]
            public partial class Broken
            {
                static void Define(ModelBuilder m)
                {
                    var x = m.Input("x", undefinedWidth);
                }
            }
            """);
        Assert.Empty(run.Diagnostics);
        Assert.Contains("public const string GraphText = \"\";", run.GeneratedSource("Broken.Model.g.cs"));
    }

    [Fact]
    public void Every_descriptor_is_listed_in_the_release_tracking_file()
    {
        var unshipped = System.IO.File.ReadAllText(System.IO.Path.Combine(RepoRoot(), "generators/Graph.Generators/AnalyzerReleases.Unshipped.md"));
        foreach (var descriptor in GeneratorInternals.AllDescriptorIds)
            Assert.Contains(descriptor + " |", unshipped);
    }

    private static string RepoRoot()
    {
        var dir = new System.IO.DirectoryInfo(System.AppContext.BaseDirectory);
        while (dir is not null && !System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "Directory.Packages.props"))) dir = dir.Parent;
        return dir!.FullName;
    }
}
