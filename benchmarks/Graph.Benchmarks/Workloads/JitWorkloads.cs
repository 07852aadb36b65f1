using System;
using System.Collections.Generic;
using Graph.Benchmarks.Models;
using Graph.Builder;
using Graph.Jit;
using Graph.Runtime.Models;

namespace Graph.Benchmarks.Workloads;

/// <summary>
/// The run-time compiler's rows: the same definitions as the generated models, built at run time and compiled
/// by <see cref="GraphJit"/>, so their training steps sit beside the generated ones; and the compile itself.
/// </summary>
public static partial class WorkloadRegistry
{
    static partial void AddJitWorkloads(List<(string Name, Func<IWorkload> Create)> workloads)
    {
        workloads.Add(("jit-mlp", () => Train("jit-mlp", "784-128-10 ReLU, softmax CE, JIT-compiled", 64,
            b => Jit(BenchMlp.Define, "BenchMlp", b), TorchModels.Mlp, TorchLoss.CrossEntropy, OptimizerSpec.Adam(1e-3))));
        workloads.Add(("jit-lenet-seed", () => Train("jit-lenet-seed", "conv3×3×64 p1, pool, conv3×3×128 p1, pool, 256, 10, JIT-compiled", 64,
            b => Jit(BenchLeNetSeed.Define, "BenchLeNetSeed", b), TorchModels.LeNetSeed, TorchLoss.CrossEntropy, OptimizerSpec.Adam(1e-3))));
        workloads.Add(("jit-compile-lenet-seed", () => new JitCompileWorkload()));
    }

    private static ISupervisedModel<int> Jit(Action<ModelBuilder> define, string name, int maxBatch)
    {
        var m = new ModelBuilder(name);
        define(m);
        return GraphJit.CompileSupervised<int>(m, maxBatch, seed: 1);
    }

    /// <summary>
    /// Building, lowering and IL-compiling the lenet-seed training model plus its first training step, in ms
    /// (warm: the process has compiled it before; the cold, first-in-process figure comes from
    /// <c>benchmarks/Graph.Jit.Timing</c>). Torch has no compile step: its column is one eager training step.
    /// </summary>
    private sealed class JitCompileWorkload : IWorkload
    {
        private readonly IWorkload _torchStep = Train("lenet-seed", "", 64, b => new BenchLeNetSeed(b, 1), TorchModels.LeNetSeed,
            TorchLoss.CrossEntropy, OptimizerSpec.Adam(1e-3));
        private readonly float[] _input = new float[64 * 784];
        private readonly int[] _labels = new int[64];

        public string Name => "jit-compile-lenet-seed";
        public string Description => "JIT compile of the lenet-seed training step + first step (Graph) vs one eager torch step";
        public double FlopsPerRun => 0;

        public void Setup()
        {
            _torchStep.Setup();
            var random = new Random(3);
            for (int i = 0; i < _input.Length; i++) _input[i] = (float)random.NextDouble();
            for (int i = 0; i < _labels.Length; i++) _labels[i] = random.Next(10);
        }

        public void RunGraph()
        {
            var model = Jit(BenchLeNetSeed.Define, "BenchLeNetSeed", 64);
            model.Optimizer = new Graph.Runtime.Optimizers.Adam(1e-3f);
            model.TrainStep(_input, _labels, 64);
        }

        public void RunTorch() => _torchStep.RunTorch();

        public double MaxDifference() => 0;

        public void Dispose() => _torchStep.Dispose();
    }
}
