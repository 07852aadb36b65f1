using System.Globalization;
using System.Linq;
using System.Reflection;
using Graph.Builder;
using Graph.Ir;
using Microsoft.CodeAnalysis;

namespace Graph.Generators.Tests;

/// <summary>
/// The graph the generator evaluates at build time must be the graph the same definition builds at
/// run time: each test compiles a model with the generator, loads the result, reads the generated
/// GraphText and compares it with running Define on a fresh ModelBuilder.
/// </summary>
public class EvaluationTests
{
    internal static string AssertSameAsRunTime(string source, string typeName)
    {
        var run = GeneratorHarness.Run(source);
        Assert.DoesNotContain(run.AllErrors, d => d.Severity == DiagnosticSeverity.Error);
        var type = run.Load().GetType(typeName)!;
        var buildTime = (string)type.GetField("GraphText")!.GetRawConstantValue()!;

        var builder = new ModelBuilder(type.Name);
        type.GetMethod("Define", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)!.Invoke(null, new object[] { builder });
        var runTime = GraphPrinter.Print(builder.Graph, withLocations: true);

        Assert.Equal(runTime, buildTime);
        Assert.Contains("out output", buildTime);
        return buildTime;
    }

    [Fact]
    public void Mlp_matches_run_time()
    {
        var text = AssertSameAsRunTime("""
            using Graph; using Graph.Builder;
            namespace Demo;
            [Model]
            public partial class Mlp
            {
                static void Define(ModelBuilder m)
                {
                    var x = m.Input("x", 784);
                    var y = m.Labels("y", classes: 10);
                    var h = x.Dense(128, "fc1").Relu();
                    var logits = h.Dense(10, "fc2");
                    m.Output(logits);
                    m.Loss(logits.SoftmaxCrossEntropy(y));
                }
            }
            """, "Demo.Mlp");
        Assert.StartsWith("graph Mlp\n", text);
        Assert.Contains("param  %fc1.weight : f32[784,128]", text);
        // Caller-info arguments carry the user's line into the nodes.
        Assert.Contains("@ Models.cs:9", text);
    }

    [Fact]
    public void LeNet_with_a_helper_called_in_a_loop_matches_run_time()
    {
        var text = AssertSameAsRunTime("""
            using Graph; using Graph.Builder;
            [Model]
            internal partial class LeNet
            {
                static Tensor ConvBlock(Tensor x, int channels, int index) =>
                    x.Conv2d(channels, kernel: 5, padding: index == 1 ? 2 : 0, name: $"conv{index}").Relu().MaxPool2d(2);

                static void Define(ModelBuilder m)
                {
                    var x = m.Input("image", new[] { 1, 28, 28 });
                    var y = m.Labels("label", classes: 10);
                    int[] widths = { 6, 16 };
                    var h = x;
                    for (int i = 0; i < widths.Length; i++)
                        h = ConvBlock(h, widths[i], i + 1);
                    h = h.Flatten().Dense(120, "fc1").Relu().Dense(84, "fc2").Relu();
                    var logits = h.Dense(10, "fc3");
                    m.Output(logits);
                    m.Loss(logits.SoftmaxCrossEntropy(y));
                }
            }
            """, "LeNet");
        Assert.Contains("%conv2.weight : f32[16,6,5,5]", text);
        Assert.Contains("%fc1.weight : f32[400,120]", text);
    }

    [Fact]
    public void Residual_block_helper_called_three_times_matches_run_time()
    {
        var text = AssertSameAsRunTime("""
            using Graph; using Graph.Builder;
            [Model]
            public partial class ResNetLike
            {
                static Tensor Residual(Tensor x, int channels, string name)
                {
                    var h = x.Conv2d(channels, 3, padding: 1, name: name + ".conv1").BatchNorm(name + ".bn1").Relu();
                    h = h.Conv2d(channels, 3, padding: 1, name: name + ".conv2").BatchNorm(name + ".bn2");
                    return (h + x).Relu();
                }

                static void Define(ModelBuilder m)
                {
                    var x = m.Input("x", 3, 16, 16);
                    var y = m.Labels("y", 10);
                    var h = x.Conv2d(8, 3, padding: 1, name: "stem");
                    foreach (var block in new[] { "a", "b", "c" })
                        h = Residual(h, 8, "block_" + block);
                    var logits = h.AvgPool2d(16).Flatten().Dense(10, "head");
                    m.Output(logits);
                    m.Loss(logits.SoftmaxCrossEntropy(y));
                }
            }
            """, "ResNetLike");
        Assert.Contains("block_c.bn2.running_var", text);
    }

    [Fact]
    public void Constants_if_ternary_operators_and_arithmetic_match_run_time()
    {
        AssertSameAsRunTime("""
            using System;
            using Graph; using Graph.Builder;
            [Model]
            public partial class Configurable
            {
                const bool UseBatchNorm = true;
                const int Hidden = 64;

                static void Define(ModelBuilder m)
                {
                    var x = m.Input("x", 20);
                    var y = m.Targets("y", 1);
                    var h = x.Dense(Hidden * 2, "fc1", weightInit: Init.HeNormal(), biasInit: Init.Zeros);
                    if (UseBatchNorm) h = h.BatchNorm("bn1");
                    else h = h.Dropout(0.1);
                    h = Hidden > 32 ? h.Relu() : h.Sigmoid();
                    double ratio = 2.9;
                    int truncated = (int)(ratio * 3);          // 8: C# truncates, it does not round
                    int halved = -7 / 2;                       // -3
                    long big = 1L << 40;
                    int width = Math.Max(truncated, halved) + (int)(big >> 40);
                    float f = 1.5f;
                    width += (int)(f * 2);                    // 12
                    h = h.Dense(width, "fc2").LeakyRelu(alpha: 0.2);
                    var output = h.Dense(1, "out") * 0.5 + 1;
                    output = -(2 - output) / 4.0;
                    m.Output(output);
                    m.Loss(output.MseLoss(y) + h.L2Penalty(1e-4));
                }
            }
            """, "Configurable");
    }

    [Fact]
    public void Arithmetic_follows_CSharp_semantics()
    {
        var text = AssertSameAsRunTime("""
            using Graph; using Graph.Builder;
            [Model]
            public partial class Numbers
            {
                static void Define(ModelBuilder m)
                {
                    float f = 16777216f;
                    f = f + 1f;                    // float precision: stays 16777216
                    double d = -2.7;
                    int big = int.MaxValue;
                    int wide = 300;
                    long l = 3;
                    l *= 1L << 33;
                    bool flag = !(d > 0) && (big ^ 1) != 0 || false;
                    string name = $"w{(int)f}_{(int)d}_{7 % -3}_{(byte)wide}_{big + 1}_{l}_{flag}_{1.0 / 3}_{2.5f * 2}_{'c'}";
                    var x = m.Input("x", 3);
                    var p = x.Dense(1, name);
                    m.Output(p);
                    m.Loss(p.Mean());
                }
            }
            """, "Numbers");
        Assert.Contains("%w16777216_-2_1_44_-2147483648_25769803776_True_0.3333333333333333_5_c.weight", text);
    }

    [Fact]
    public void String_interpolation_names_are_culture_invariant()
    {
        // A culture whose decimal separator is a comma: the build must not depend on it.
        var previous = CultureInfo.CurrentCulture;
        var comma = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        comma.NumberFormat.NumberDecimalSeparator = ",";
        CultureInfo.CurrentCulture = comma;
        try
        {
            var text = AssertSameAsRunTimeInvariant("""
                using Graph; using Graph.Builder;
                [Model]
                public partial class Named
                {
                    static void Define(ModelBuilder m)
                    {
                        var h = m.Input("x", 8);
                        var y = m.Targets("y", 4);
                        for (int i = 0; i < 3; i++)
                        {
                            float keep = 0.5f + i / 4f;
                            h = h.Dense(8, $"blk{i}_{keep}_{i,3}_{keep:F2}").Tanh();
                        }
                        var output = h.Dense(4, "out");
                        m.Output(output);
                        m.Loss(output.HuberLoss(y, delta: 0.5));
                    }
                }
                """, "Named");
            Assert.Contains("%blk1_0.75_  1_0.75.weight", text);
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
    }

    // At run time string interpolation uses the current culture; the build-time names are invariant by
    // design, so the run-time side of this comparison is run under the invariant culture.
    private static string AssertSameAsRunTimeInvariant(string source, string typeName)
    {
        var run = GeneratorHarness.Run(source);
        var saved = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        try
        {
            Assert.DoesNotContain(run.AllErrors, d => d.Severity == DiagnosticSeverity.Error);
            var type = run.Load().GetType(typeName)!;
            var builder = new ModelBuilder(type.Name);
            type.GetMethod("Define", BindingFlags.Static | BindingFlags.NonPublic)!.Invoke(null, new object[] { builder });
            var buildTime = (string)type.GetField("GraphText")!.GetRawConstantValue()!;
            Assert.Equal(GraphPrinter.Print(builder.Graph, withLocations: true), buildTime);
            return buildTime;
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    [Fact]
    public void Loops_arrays_collections_local_functions_and_named_arguments_match_run_time()
    {
        AssertSameAsRunTime("""
            using System.Linq;
            using Graph; using Graph.Builder; using Graph.Ir;
            [Model]
            public partial class Everything
            {
                static int Twice(int v) => v * 2;

                static void Define(ModelBuilder m)
                {
                    int[] shape = [1, 12, 12];
                    var x = m.Input("x", shape);
                    var y = m.Labels("y", classes: 5);
                    var h = x.Conv2d(outChannels: Twice(2), kernel: 3, stride: 1, name: "c1", weightInit: new Initializer(InitKind.XavierUniform, 1.0));
                    h = h.MaxPool2d(kernel: 2, stride: 2).AvgPool2d(2, stride: null);
                    int count = 0;
                    while (count < 2) { count++; }
                    do { count += 1; } while (count < 4 && shape.Length == 3);
                    var sizes = new int[3];
                    foreach (var i in Enumerable.Range(0, sizes.Length)) sizes[i] = 10 + i * count;
                    Tensor Block(Tensor t, int units) => t.Dense(units, bias: units % 2 == 0).Elu();
                    h = h.Flatten();
                    int features = h.Shape[1] + h.Shape.Rank - 2;   // 16: Graph API properties and indexers
                    h = h.Dense(features, "square");
                    foreach (int units in sizes)
                    {
                        if (units > 30) break;
                        if (units == 14) continue;
                        h = Block(h, units);
                    }
                    string? name = null;
                    var logits = h.Dense(5, name ?? "head");
                    m.Output(logits.Softmax(axis: Shape.Batch));
                    m.Loss(logits.SoftmaxCrossEntropy(y) + logits.Sum(axis: 0).Mean() * 0.0);
                }
            }
            """, "Everything");
    }

    [Fact]
    public void Static_readonly_fields_and_static_properties_of_the_users_code_match_run_time()
    {
        var text = AssertSameAsRunTime("""
            using Graph; using Graph.Builder;
            static class Settings
            {
                public static readonly int[] Widths = { 32, 16 };
                public static int Classes => Widths.Length * 2 + 1;
                public static double Dropout { get; } = 0.25;
            }
            [Model]
            public partial class FromSettings
            {
                static readonly string Prefix = "layer";
                static void Define(ModelBuilder m)
                {
                    var h = m.Input("x", 10);
                    var y = m.Labels("y", Settings.Classes);
                    for (int i = 0; i < Settings.Widths.Length; i++)
                        h = h.Dense(Settings.Widths[i], Prefix + i).Relu().Dropout(Settings.Dropout);
                    var logits = h.Dense(Settings.Classes, "head");
                    m.Output(logits);
                    m.Loss(logits.SoftmaxCrossEntropy(y));
                }
            }
            """, "FromSettings");
        Assert.Contains("%layer1.weight : f32[32,16]", text);
        Assert.Contains("%head.weight : f32[16,5]", text);
    }

    [Fact]
    public void Nested_model_class_in_a_namespace_compiles_with_the_generated_part()
    {
        var run = GeneratorHarness.Run("""
            using Graph; using Graph.Builder;
            namespace Outer.Space
            {
                public static partial class Container
                {
                    [Model(Definition = nameof(Build))]
                    internal partial class Tiny
                    {
                        static void Build(ModelBuilder m)
                        {
                            var x = m.Input("x", 2);
                            var y = m.Targets("y", 1);
                            var p = x.Dense(1);
                            m.Output(p);
                            m.Loss(p.MseLoss(y));
                        }
                        public static string Text => GraphText;
                    }
                }
            }
            """);
        Assert.Empty(run.AllErrors);
        var source = run.GeneratedSource("Outer.Space.Container.Tiny.Model.g.cs");
        Assert.StartsWith("// <auto-generated/>\n", source);
        Assert.Contains("\n#nullable enable\n", source);
        Assert.Contains("partial class Container", source);
        Assert.Contains("internal partial class Tiny", source);
    }
}
