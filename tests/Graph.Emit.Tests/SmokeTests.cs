using System;
using Graph.Runtime.Models;

namespace Graph.Emit.Tests;

public class SmokeTests
{
    [Fact]
    public void Mlp_compiles_and_trains()
    {
        string code = ModelEmitter.Emit(Models.Mlp(), Models.Target("Mlp"));
        System.IO.File.WriteAllText("/tmp/mlp.cs", code);
        var asm = RoslynCompiler.Compile(new[] { code });
        var model = RoslynCompiler.Create<ISupervisedModel<int>>(asm, "Generated.Models.Mlp", 32, 1);
        var x = new float[32 * 784];
        var rng = new Random(1);
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var y = new int[32];
        for (int i = 0; i < y.Length; i++) y[i] = rng.Next(10);
        float first = model.TrainStep(x, y, 32);
        float last = first;
        for (int i = 0; i < 20; i++) last = model.TrainStep(x, y, 32);
        Assert.True(last < first, $"{first} -> {last}");
    }
}
