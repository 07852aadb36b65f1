using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Interpretation;
using Graph.Ops;
using Graph.Passes;
using Xunit.Abstractions;

namespace Graph.Tests;

public class GradientCheckTests
{
    private const double Tolerance = 1e-6;
    private readonly ITestOutputHelper _output;

    public GradientCheckTests(ITestOutputHelper output) => _output = output;

    [Theory]
    [MemberData(nameof(GradientTable.Rows), MemberType = typeof(GradientTable))]
    public void Symbolic_gradient_matches_finite_differences(string name)
    {
        var result = GradientCheck.Run(GradientTable.Find(name));
        _output.WriteLine($"{name}: worst relative error {result.WorstRelativeError:E2} ({result.WorstLeaf}), {result.Checked} leaves");
        Assert.True(result.WorstRelativeError < Tolerance,
            $"{name}: gradient of '{result.WorstLeaf}' differs from finite differences by {result.WorstRelativeError:E3}\n{result.Graph}");
    }

    [Theory]
    [MemberData(nameof(GradientTable.Rows), MemberType = typeof(GradientTable))]
    public void Optimized_graph_computes_the_same_values(string name)
    {
        var c = GradientTable.Find(name);
        var (m, loss, wrt) = GradientCheck.Prepare(c);
        m.AddParameterGradients();
        var graph = m.Graph;
        var optimized = PassPipeline.Optimize(graph, c.Mode, validate: true);
        var feeds = GradientCheck.MakeFeeds(graph, c.Batch, c.Classes);
        var expected = Interpreter.Run(graph, feeds, c.Mode, seed: 3, step: 2);
        var actual = Interpreter.Run(optimized, feeds, c.Mode, seed: 3, step: 2);
        foreach (var output in optimized.Outputs)
        {
            var e = expected[output.Name];
            var a = actual[output.Name];
            Assert.Equal(e.Dims, a.Dims);
            double error = GradientCheck.RelativeError(e.Data, a.Data);
            Assert.True(error < 1e-12, $"{name}: output {output.Name} changed by {error:E3} after optimization");
        }
        Assert.True(optimized.Nodes.Count <= graph.Nodes.Count);
    }

    [Fact]
    public void Every_op_appears_in_the_gradient_table()
    {
        var used = new HashSet<Type>();
        foreach (var c in GradientTable.Cases)
        {
            var (m, loss, wrt) = GradientCheck.Prepare(c);
            m.Grad(loss, wrt);
            foreach (var node in m.Graph.Nodes) used.Add(node.Op.GetType());
        }
        var all = typeof(Op).Assembly.GetTypes().Where(t => typeof(Op).IsAssignableFrom(t) && !t.IsAbstract);
        var missing = all.Where(t => !used.Contains(t)).Select(t => t.Name).OrderBy(n => n).ToArray();
        Assert.True(missing.Length == 0, "Ops never exercised by the gradient table: " + string.Join(", ", missing));
    }
}
