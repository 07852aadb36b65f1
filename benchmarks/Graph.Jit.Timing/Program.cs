using System;
using System.Diagnostics;
using System.Linq;
using System.Runtime;
using Graph.Emit;
using Graph.Emit.Tests;
using Graph.Jit;
using Graph.Runtime.Models;
using Graph.Runtime.Optimizers;

// 1. Cold: the first thing this process does is compile LeNet and take one training step.
int batch = Arg("--batch", 32), steps = Arg("--steps", 30), firstBatch = Arg("--first-batch", 1);
var (x1, y1) = Data(firstBatch);
var jitBefore = JitSnapshot.Now();
var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
var total = Stopwatch.StartNew();
var clock = Stopwatch.StartNew();
var builder = Models.LeNet();
var jit = GraphJit.CompileSupervised<int>(builder, Math.Max(batch, firstBatch), seed: 1);
var compile = clock.Elapsed;
var jitCompile = JitSnapshot.Now();
jit.Optimizer = new Adam(1e-3f);
clock.Restart();
jit.TrainStep(x1, y1, firstBatch);
var first = clock.Elapsed;
var cold = total.Elapsed;
var coldCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
var jitFirst = JitSnapshot.Now();
clock.Restart();
jit.TrainStep(x1, y1, firstBatch);
var second = clock.Elapsed;
var t = ((IRuntimeCompiledModel)jit).Timings;
Console.WriteLine($"LeNet cold compile (fresh process, {Environment.ProcessorCount} cores, batch {firstBatch} first step):");
Console.WriteLine($"  lowering {Ms(t.Lowering)}, IL emission {Ms(t.Emission)}, construction {Ms(t.Construction)} => GraphJit.Compile {Ms(compile)}");
Console.WriteLine($"    .NET JIT {jitCompile - jitBefore}");
Console.WriteLine($"  first TrainStep {Ms(first)} (second {Ms(second)}: the difference is .NET JIT of the DynamicMethods and kernels)");
Console.WriteLine($"    .NET JIT {jitFirst - jitCompile}");
Console.WriteLine($"  total compile + first call {Ms(cold)} (process CPU time {Ms(coldCpu)}: less sensitive to other load on the machine)");
if (Array.IndexOf(Environment.GetCommandLineArgs(), "--cold-only") >= 0) return;

// 2. Warm compile (same process, second model): what a notebook or architecture search pays per model.
clock.Restart();
var again = GraphJit.CompileSupervised<int>(Models.LeNet(), batch, seed: 2);
var warmCompile = clock.Elapsed;
again.Optimizer = new Adam(1e-3f);
clock.Restart();
again.TrainStep(x1, y1, firstBatch);
Console.WriteLine($"LeNet warm compile {Ms(warmCompile)} + first step {Ms(clock.Elapsed)}");

// 2b. The same with one DynamicMethod per kernel instead of one per program.
clock.Restart();
var perKernel = GraphJit.CompileSupervised<int>(Models.LeNet(), batch, seed: 2, new JitOptions { MethodPerKernel = true });
var perKernelCompile = clock.Elapsed;
perKernel.Optimizer = new Adam(1e-3f);
clock.Restart();
perKernel.TrainStep(x1, y1, firstBatch);
Console.WriteLine($"LeNet warm compile, one method per kernel: {Ms(perKernelCompile)} + first step {Ms(clock.Elapsed)}");

// 3. Step time: JIT vs generated C# (the source generator's output compiled with Roslyn), alternating rounds.
var assembly = RoslynCompiler.Compile(new[] { ModelEmitter.Emit(Models.LeNet(), Models.Target("LeNet")), ModelEmitter.Emit(Models.Mlp(), Models.Target("Mlp")) }, "Timing");
foreach (var name in new[] { "LeNet", "Mlp" })
{
    var gen = RoslynCompiler.Create<ISupervisedModel<int>>(assembly, "Generated.Models." + name, batch, 1);
    var il = GraphJit.CompileSupervised<int>(name == "LeNet" ? Models.LeNet() : Models.Mlp(), batch, seed: 1);
    var ik = GraphJit.CompileSupervised<int>(name == "LeNet" ? Models.LeNet() : Models.Mlp(), batch, seed: 1, new JitOptions { MethodPerKernel = true });
    ik.Optimizer = new Adam(1e-3f);
    gen.Optimizer = new Adam(1e-3f);
    il.Optimizer = new Adam(1e-3f);
    var (x, y) = Data(batch);
    for (int i = 0; i < 5; i++) { gen.TrainStep(x, y, batch); il.TrainStep(x, y, batch); ik.TrainStep(x, y, batch); }
    var tg = new double[steps];
    var tj = new double[steps];
    var tk = new double[steps];
    for (int i = 0; i < steps; i++)
    {
        clock.Restart(); gen.TrainStep(x, y, batch); tg[i] = clock.Elapsed.TotalMilliseconds;
        clock.Restart(); il.TrainStep(x, y, batch); tj[i] = clock.Elapsed.TotalMilliseconds;
        clock.Restart(); ik.TrainStep(x, y, batch); tk[i] = clock.Elapsed.TotalMilliseconds;
    }
    double mg = Median(tg), mj = Median(tj), mk = Median(tk);
    Console.WriteLine($"{name} training step, batch {batch}, Adam, median of {steps}: generated {mg:F3} ms, JIT {mj:F3} ms (JIT/generated {mj / mg:F3}), JIT one method per kernel {mk:F3} ms ({mk / mg:F3})");
}

static (float[] x, int[] y) Data(int batch)
{
    var rng = new Random(1);
    var x = new float[batch * 784];
    for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
    return (x, Enumerable.Range(0, batch).Select(_ => rng.Next(10)).ToArray());
}

static double Median(double[] v) { var s = v.OrderBy(a => a).ToArray(); return s[s.Length / 2]; }

static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:F1} ms";

int Arg(string name, int fallback)
{
    var a = Environment.GetCommandLineArgs();
    int i = Array.IndexOf(a, name);
    return i >= 0 && i + 1 < a.Length ? int.Parse(a[i + 1]) : fallback;
}

/// <summary>The .NET JIT's work (all threads), the managed allocations and garbage collections so far in this process, to split a phase's time.</summary>
readonly record struct JitSnapshot(long Methods, TimeSpan Time, long Allocated, int Collections, TimeSpan GcPause)
{
    public static JitSnapshot Now() => new(JitInfo.GetCompiledMethodCount(), JitInfo.GetCompilationTime(), GC.GetTotalAllocatedBytes(precise: true),
        GC.CollectionCount(0), GC.GetTotalPauseDuration());
    public static string operator -(JitSnapshot after, JitSnapshot before) =>
        $"{(after.Time - before.Time).TotalMilliseconds:F1} ms ({after.Methods - before.Methods} methods); allocated {(after.Allocated - before.Allocated) / 1e6:F1} MB, " +
        $"{after.Collections - before.Collections} GCs ({(after.GcPause - before.GcPause).TotalMilliseconds:F1} ms paused)";
}
