using System;
using System.Diagnostics;
using System.Globalization;
using Graph.Benchmarks.Workloads;
using Graph.Runtime.Kernels;
using TorchSharp;

namespace Graph.Benchmarks;

/// <summary>
/// <c>profile WORKLOAD [--torch] [--threads N] [--seconds S]</c>: runs one side of one workload in a loop (Graph unless
/// --torch) and prints its mean time per run, for attaching a profiler, e.g.
/// <c>DOTNET_PerfMapEnabled=1 perf record -g -- dotnet bin/Release/net10.0/Graph.Benchmarks.dll profile lenet5</c>.
/// </summary>
public static class ProfileCommand
{
    public static int Run(string[] args)
    {
        int threads = WorkerPool.ThreadCount;
        double seconds = 10;
        bool useTorch = false;
        string? name = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--threads": threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--torch": useTorch = true; break;
                default: name = args[i]; break;
            }
        }
        if (name is null) { Console.Error.WriteLine("usage: profile WORKLOAD [--torch] [--threads N] [--seconds S]"); return 2; }
        WorkerPool.SetThreadCount(threads);
        torch.set_num_threads(threads);
        using var workload = WorkloadRegistry.Create(name);
        workload.Setup();
        Action run = useTorch ? workload.RunTorch : workload.RunGraph;
        for (int i = 0; i < 20; i++) run();
        var process = Process.GetCurrentProcess();
        TimeSpan cpuStart = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        long runs = 0;
        while (clock.Elapsed.TotalSeconds < seconds) { run(); runs++; }
        double wall = clock.Elapsed.TotalMilliseconds;
        process.Refresh();
        double cpu = (process.TotalProcessorTime - cpuStart).TotalMilliseconds;
        // CPU time per run is the steadier number on a loaded machine (with 1 thread it is the run's own work).
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name} ({(useTorch ? "torch" : "Graph")}, {threads} thread(s)): {runs} runs, {wall / runs:F4} ms per run, {cpu / runs:F4} CPU ms per run"));
        return 0;
    }
}
