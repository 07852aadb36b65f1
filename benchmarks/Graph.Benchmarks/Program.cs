using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Graph.Benchmarks;

// `compare [workload ...]`: quick Graph-vs-TorchSharp table. Anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "compare") return CompareCommand.Run(args[1..]);
// `profile WORKLOAD [--torch]`: one side of one workload in a loop, for a profiler.
if (args.Length > 0 && args[0] == "profile") return ProfileCommand.Run(args[1..]);

// In-process: TorchSharp's native libraries are prepared next to this build's output (see the .csproj), and
// BenchmarkDotNet's default out-of-process toolchain would build and run a separate copy without them. Marked as the
// default job so that --job options on the command line refine it instead of adding a second job.
var config = DefaultConfig.Instance.AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).AsDefault());
BenchmarkSwitcher.FromAssembly(typeof(CompareCommand).Assembly).Run(args, config);
return 0;
