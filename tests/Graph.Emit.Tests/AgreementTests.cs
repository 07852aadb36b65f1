using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Ops;
using Graph.Runtime.Models;
using Graph.Tests;
using Xunit.Abstractions;

namespace Graph.Emit.Tests;

/// <summary>Every row of the core gradient-check table, emitted as a model, compiled once with Roslyn.</summary>
public sealed class CompiledTable
{
    public sealed class Entry
    {
        public required GradCase Case { get; init; }
        public required bool Scaled { get; init; }
        public required ModelBuilder Builder { get; init; }
        public required string ClassName { get; init; }
        public required Dictionary<string, TensorValue> Feeds { get; init; }
        public string? NotLowered { get; init; }
    }

    public Dictionary<string, Entry> Entries { get; } = new();
    public Assembly Assembly { get; }

    public static string Key(string name, bool scaled) => (scaled ? "scaled: " : "") + name;

    public CompiledTable()
    {
        var sources = new List<string>();
        int index = 0;
        foreach (bool scaled in new[] { false, true })
        {
            foreach (var c in GradientTable.Cases)
            {
                GradientTable.ScaleInputs = scaled;
                ModelBuilder m;
                try { m = EngineAgreement.BuildTableModel(c); }
                finally { GradientTable.ScaleInputs = false; }
                if (scaled && !m.Graph.Parameters.Any(p => ((ParameterOp)p.Op).LeafName.StartsWith("pos_scale_"))) continue;
                string className = "Case" + index++;
                string? error = null;
                try { sources.Add(ModelEmitter.Emit(m, new EmitTarget("Generated.Table", className, "public", Array.Empty<string>()))); }
                catch (NotSupportedException e) { error = e.Message; }
                var feeds = GradientCheck.MakeFeeds(m.Graph, c.Batch, c.Classes);
                Entries[Key(c.Name, scaled)] = new Entry { Case = c, Scaled = scaled, Builder = m, ClassName = "Generated.Table." + className, Feeds = feeds, NotLowered = error };
            }
        }
        Assembly = RoslynCompiler.Compile(sources, "Table");
    }

}

public class AgreementTests : IClassFixture<CompiledTable>
{
    /// <summary>
    /// Norm-wise relative difference allowed between generated float32 code and the float32-rounded interpreter:
    /// ‖a − b‖ / max(‖a‖, ‖b‖, 0.01) ≤ 1e-4, i.e. an absolute 1e-6 for results whose norm is below 0.01 (such as a
    /// convolution bias feeding batch norm, whose exact gradient is 0 and whose computed one is rounding noise).
    /// </summary>
    public const double Tolerance = EngineAgreement.Tolerance;

    private static double s_worst;
    private static string s_worstWhere = "";
    private static readonly object s_lock = new();
    private readonly CompiledTable _table;
    private readonly ITestOutputHelper _output;

    public AgreementTests(CompiledTable table, ITestOutputHelper output)
    {
        _table = table;
        _output = output;
    }

    public static IEnumerable<object[]> Rows =>
        GradientTable.Cases.SelectMany(c => new[] { new object[] { c.Name, false }, new object[] { c.Name, true } });

    [Theory]
    [MemberData(nameof(Rows))]
    public void Generated_code_matches_the_interpreter(string name, bool scaled)
    {
        if (!_table.Entries.TryGetValue(CompiledTable.Key(name, scaled), out var e)) return; // no input to scale
        Assert.True(e.NotLowered is null, e.NotLowered);
        var c = e.Case;
        const ulong seed = 7;
        var model = RoslynCompiler.Create<ICompiledModel>(_table.Assembly, e.ClassName, c.Batch + 2, seed);
        EngineAgreement.MatchesInterpreter(model, e.Builder.Graph, e.Feeds, c.Batch, seed, (what, actual, expected) => Check(e, what, actual, expected));
    }

    [Fact]
    public void Every_table_row_is_lowered() =>
        Assert.Empty(_table.Entries.Values.Where(e => e.NotLowered is not null).Select(e => e.Case.Name + ": " + e.NotLowered));



    private void Check(CompiledTable.Entry e, string what, float[] actual, double[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double error = EngineAgreement.RelativeError(actual, expected);
        string where = $"{(e.Scaled ? "scaled " : "")}{e.Case.Name} / {what}";
        lock (s_lock)
        {
            if (error > s_worst) { s_worst = error; s_worstWhere = where; }
        }
        _output.WriteLine($"{where}: {error:E2} (worst so far {s_worst:E2} at {s_worstWhere})");
        Assert.True(error <= Tolerance, $"{where}: relative difference {error:E3} > {Tolerance:E0}\n  actual   {string.Join(", ", actual.Take(8))}\n  expected {string.Join(", ", expected.Take(8))}");
    }
}
