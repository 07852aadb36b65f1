using System;
using System.Linq;
using Graph.Emit.Tests;
using Graph.Jit;
using Graph.Runtime.Models;
using Xunit.Abstractions;

namespace Graph.Jit.Tests;

public class SmokeTests
{
    private readonly ITestOutputHelper _out;
    public SmokeTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void Mlp_trains_through_the_jit()
    {
        var model = GraphJit.CompileSupervised<int>(Models.Mlp(), 64, seed: 3);
        var rng = new Random(1);
        var x = new float[64 * 784];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var y = Enumerable.Range(0, 64).Select(_ => rng.Next(10)).ToArray();
        model.Optimizer = new Graph.Runtime.Optimizers.Sgd(0.1f);
        float first = model.TrainStep(x, y, 64);
        float last = first;
        for (int i = 0; i < 30; i++) last = model.TrainStep(x, y, 64);
        _out.WriteLine($"{first} -> {last}");
        Assert.True(last < first * 0.8f, $"{first} -> {last}");
    }
}
