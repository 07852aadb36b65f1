using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Ops;
using Graph.Passes;
using Xunit.Abstractions;

namespace Graph.Fuzz.Tests;

/// <summary>A fixed-seed fuzz run per available engine and the replay of every saved regression case.</summary>
public class FuzzRunTests
{
    private readonly ITestOutputHelper _output;

    public FuzzRunTests(ITestOutputHelper output) => _output = output;

    /// <summary>Engines and how many graphs each gets (the C# engine fewer: one Roslyn compilation per 25 graphs).</summary>
    public static IEnumerable<object[]> Engines =>
        EngineRegistry.All().Select(e => new object[] { e.Name, e is CSharpEngine ? 100 : e is IlJitEngine ? 300 : 400 });

    public static IEnumerable<object[]> RegressionFiles =>
        Regressions.Load(RegressionDirectory()).Select(r => new object[] { r.Name });

    private static string RegressionDirectory() =>
        Regressions.FindSourceDirectory() ?? Path.Combine(AppContext.BaseDirectory, "regressions");

    [Theory]
    [MemberData(nameof(RegressionFiles))]
    public void Saved_regression_case_replays_clean_on_every_engine(string file)
    {
        var recipe = Recipe.Parse(File.ReadAllText(Path.Combine(RegressionDirectory(), file)));
        var built = RecipeBuilder.Build(recipe);
        Assert.Null(built.DomainViolation());
        var engines = EngineRegistry.All().Where(e => e.Unavailable is null).ToList();
        var mismatches = Fuzzer.Check(new FuzzCase(recipe), EngineRegistry.ReferenceEngine(), engines);
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches.Select(m => m.Engine + ": " + m.Detail)) + "\n" + GraphPrinter.Print(built.Model.Graph));
    }

    [Fact]
    public void There_are_saved_regression_cases() => Assert.NotEmpty(RegressionFiles);
}

/// <summary>The generator: determinism, op coverage, well-typed and well-conditioned output, recipe text round trip.</summary>
public class GeneratorTests
{
    [Fact]
    public void Generation_is_deterministic()
    {
        for (int seed = 0; seed < 20; seed++)
            Assert.Equal(Generator.Generate(seed).Format(), Generator.Generate(seed).Format());
    }

    [Fact]
    public void Every_op_of_the_catalog_is_generated()
    {
        var seen = new HashSet<string>();
        for (int seed = 0; seed < 600 && !Generator.Ops.All(o => seen.Contains(o.Op)); seed++)
            foreach (var i in Generator.Generate(seed).Instrs) seen.Add(i.Op);
        var missing = Generator.Ops.Select(o => o.Op).Where(o => !seen.Contains(o)).ToList();
        Assert.True(missing.Count == 0, "never generated: " + string.Join(", ", missing));
    }

    [Fact]
    public void Generated_graphs_build_validate_and_respect_their_domains()
    {
        for (int seed = 0; seed < 100; seed++)
        {
            var recipe = Generator.Generate(seed);
            var built = RecipeBuilder.Build(recipe);
            Assert.All(built.Applied.Select((a, i) => (a, i)), x => Assert.True(x.a, $"seed {seed}: instruction {x.i} was not applied"));
            Validator.Validate(built.Model.Graph);
            Assert.Null(built.DomainViolation());
        }
    }

    [Fact]
    public void Recipes_round_trip_through_text()
    {
        for (int seed = 0; seed < 50; seed++)
        {
            var recipe = Generator.Generate(seed);
            var text = recipe.Format();
            Assert.Equal(text, Recipe.Parse(text).Format());
            Assert.Equal(GraphPrinter.Print(RecipeBuilder.Build(recipe).Model.Graph), GraphPrinter.Print(RecipeBuilder.Build(Recipe.Parse(text)).Model.Graph));
        }
    }

    [Fact]
    public void Normalizing_a_generated_recipe_keeps_its_graph()
    {
        for (int seed = 0; seed < 50; seed++)
        {
            var recipe = Generator.Generate(seed);
            var normalized = Shrinker.Normalize(recipe)!;
            // Only unused leaves go, so the ops and their types stay.
            var a = RecipeBuilder.Build(recipe).Model.Graph;
            var b = RecipeBuilder.Build(normalized).Model.Graph;
            Assert.Equal(recipe.OpCount, normalized.OpCount);
            Assert.Equal(a.Nodes.Where(n => n.Op is not LeafOp).Select(n => n.Op.Name + n.Type), b.Nodes.Where(n => n.Op is not LeafOp).Select(n => n.Op.Name + n.Type));
        }
    }
}

/// <summary>The tolerance accepts float32 rounding and rejects real errors.</summary>
public class ToleranceTests
{
    [Fact]
    public void Float32_rounding_passes_and_a_one_percent_error_fails()
    {
        var a = Enumerable.Range(0, 50).Select(i => Math.Sin(i) * 3).ToArray();
        Assert.Null(Tolerance.CompareOne(a, a.Select(x => (double)(float)x).ToArray()));
        Assert.NotNull(Tolerance.CompareOne(a, a.Select(x => x * 1.01).ToArray()));
        Assert.NotNull(Tolerance.CompareOne(a, a.Select((x, i) => i == 7 ? -x : x).ToArray()));
        Assert.NotNull(Tolerance.CompareOne(a, a.Select((x, i) => i == 3 ? double.NaN : x).ToArray()));
        Assert.NotNull(Tolerance.CompareOne(a, a.Take(49).ToArray()));
        // ~0 by cancellation: an absolute floor of 1e-4 per element, and no more.
        Assert.Null(Tolerance.CompareOne(new[] { 0.0, 0.0 }, new[] { 3e-5, -2e-5 }));
        Assert.NotNull(Tolerance.CompareOne(new[] { 0.0, 0.0 }, new[] { 3e-4, -2e-4 }));
    }
}

/// <summary>The shrinker finds and minimizes planted bugs.</summary>
public class ShrinkerTests
{
    private readonly ITestOutputHelper _output;

    public ShrinkerTests(ITestOutputHelper output) => _output = output;

    /// <summary>The float64 interpreter with one op's forward result scaled by 1.001 (a planted bug).</summary>
    private static IEngine Planted<TOp>(double factor = 1.001) where TOp : Op =>
        new InterpreterEngine("planted-" + typeof(TOp).Name, Precision.Float64, rewrite: g => GraphRewriter.Rewrite(g, (old, inputs, target) =>
        {
            if (old.Op is not TOp) return null;
            var y = target.Add(old.Op, inputs, old.Name, old.Location);
            var c = target.Add(new ConstantOp(TensorValue.Scalar(factor)), Array.Empty<Node>());
            return target.Add(new MulOp(), new[] { y, c });
        }));

    [Theory]
    [InlineData("tanh")]
    [InlineData("sum")]
    [InlineData("matmul")]
    public void A_planted_bug_is_found_and_shrunk_to_at_most_three_ops(string op)
    {
        IEngine engine = op switch
        {
            "tanh" => Planted<TanhOp>(),
            "sum" => Planted<SumOp>(),
            _ => Planted<MatMulOp>(),
        };
        var log = new StringWriter();
        var summary = Fuzzer.Run(new FuzzOptions { Graphs = 150, Seed = 7, Engines = new List<IEngine> { engine }, Shrink = false, Log = log });
        Assert.True(summary.Found.Count > 0, $"the planted {op} bug was not found in 150 graphs");
        var (_, mismatch, recipe) = summary.Found.OrderBy(f => f.Shrunk.OpCount).First();
        var reference = EngineRegistry.ReferenceEngine();
        var shrunk = Shrinker.Shrink(recipe, r => Shrinker.StillFails(r, reference, engine, mismatch.Crash), budget: 300);
        _output.WriteLine($"from {recipe.OpCount} ops:\n{recipe.Format()}\nto {shrunk.OpCount} ops:\n{shrunk.Format()}\n{Fuzzer.Describe(shrunk, reference, engine)}");
        Assert.True(shrunk.OpCount <= 3, $"shrunk only to {shrunk.OpCount} ops:\n{shrunk.Format()}");
        Assert.True(Shrinker.StillFails(shrunk, reference, engine, mismatch.Crash), "the shrunk case no longer fails");
        Assert.False(Shrinker.StillFails(shrunk, reference, EngineRegistry.ReferenceEngine(), false), "the reference agrees with itself");
        Assert.Contains(shrunk.Instrs, i => i.Op == op || op == "sum" && i.Op is "sum" or "mean" or "softmax" or "log_softmax" or "logsumexp" || op == "matmul" && i.Op is "matmul" or "dense");
    }

    [Fact]
    public void Shrinking_a_passing_case_returns_it_unchanged()
    {
        var recipe = Generator.Generate(3);
        var shrunk = Shrinker.Shrink(recipe, _ => false, budget: 50);
        Assert.Equal(recipe.Format(), shrunk.Format());
    }
}
