using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using Graph.Benchmarks.Workloads;
using Graph.Runtime.Kernels;
using TorchSharp;

namespace Graph.Benchmarks;

/// <summary>
/// <c>compare [--threads N] [--seconds S] [workload ...]</c>: for each workload, the median time per run of Graph and
/// of TorchSharp, measured in alternating batches so that machine noise hits both, plus speedup and GFLOP/s.
/// </summary>
public static class CompareCommand
{
    private const double WarmupSeconds = 1.0;
    private const double BatchSeconds = 0.02;

    // Both sides keep worker threads spinning for a while after each call (Graph's pool for 0.5 ms, libtorch's
    // OpenMP threads for a few ms). On a machine with few cores those spinners steal the other side's cores, so each
    // timed batch starts after a quarter batch of untimed runs, long enough for the other side's threads to go idle.
    // (Sleeping instead lets the scheduler park both sides' threads on one core, which skews far worse.)
    private const int UntimedFraction = 4;

    public static int Run(string[] args)
    {
        int threads = WorkerPool.ThreadCount;
        double seconds = 3;
        var names = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--threads": threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: names.Add(args[i]); break;
            }
        }
        var unknown = names.Where(n => WorkloadRegistry.All.All(w => w.Name != n)).ToList();
        if (unknown.Count > 0)
        {
            Console.Error.WriteLine($"Unknown workload(s): {string.Join(", ", unknown)}. Known: {string.Join(", ", WorkloadRegistry.All.Select(w => w.Name))}");
            return 2;
        }
        var selected = WorkloadRegistry.All.Where(w => names.Count == 0 || names.Contains(w.Name)).ToList();

        WorkerPool.SetThreadCount(threads);
        torch.set_num_threads(threads);
        Console.WriteLine($"Graph kernels ({KernelIsaSelector.Best}) vs TorchSharp {typeof(torch).Assembly.GetName().Version} on {threads} thread(s), " +
            $"{Environment.ProcessorCount} logical cores; median of alternating batches over ~{seconds:0.#} s per workload.");
        Console.WriteLine();
        Console.WriteLine($"| {"workload",-12} | {"Graph ms",10} | {"Torch ms",10} | {"speedup",7} | {"Graph GFLOP/s",13} | {"Torch GFLOP/s",13} | {"max |Δ|",8} | {"Graph B/run",11} |");
        Console.WriteLine($"|{new string('-', 14)}|{new string('-', 12)}|{new string('-', 12)}|{new string('-', 9)}|{new string('-', 15)}|{new string('-', 15)}|{new string('-', 10)}|{new string('-', 13)}|");
        foreach (var (_, create) in selected)
        {
            using IWorkload workload = create();
            workload.Setup();
            var (graph, torchTime, difference) = Measure(workload, seconds);
            double allocated = AllocatedPerRun(workload.RunGraph);
            string Rate(double t) => workload.FlopsPerRun > 0 ? (workload.FlopsPerRun / t / 1e9).ToString("F1", CultureInfo.InvariantCulture) : "-";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {workload.Name,-12} | {graph * 1e3,10:F4} | {torchTime * 1e3,10:F4} | {torchTime / graph,6:F2}x | {Rate(graph),13} | {Rate(torchTime),13} | {difference,8:G2} | {allocated,11:0.#} |"));
        }
        return 0;
    }

    /// <summary>Median seconds per run of each side, from batches of about 20 ms taken alternately.</summary>
    private static (double Graph, double Torch, double Difference) Measure(IWorkload workload, double seconds)
    {
        // Warm up both (JIT tiers, torch's thread pool, caches), then size the batches.
        var clock = Stopwatch.StartNew();
        int graphRuns = 0, torchRuns = 0;
        while (clock.Elapsed.TotalSeconds < WarmupSeconds || graphRuns < 3)
        {
            workload.RunGraph(); graphRuns++;
            workload.RunTorch(); torchRuns++;
        }
        double difference = workload.MaxDifference();
        int graphBatch = BatchSize(workload.RunGraph), torchBatch = BatchSize(workload.RunTorch);

        var graphTimes = new List<double>();
        var torchTimes = new List<double>();
        clock.Restart();
        for (int round = 0; clock.Elapsed.TotalSeconds < seconds || round < 5; round++)
        {
            // Alternate which side goes first so neither always runs right after the other.
            if (round % 2 == 0)
            {
                graphTimes.Add(TimeBatch(workload.RunGraph, graphBatch));
                torchTimes.Add(TimeBatch(workload.RunTorch, torchBatch));
            }
            else
            {
                torchTimes.Add(TimeBatch(workload.RunTorch, torchBatch));
                graphTimes.Add(TimeBatch(workload.RunGraph, graphBatch));
            }
        }
        return (Median(graphTimes), Median(torchTimes), difference);
    }

    /// <summary>Managed bytes allocated per run (all threads), over 50 runs after the measurement.</summary>
    private static double AllocatedPerRun(Action run)
    {
        const int runs = 50;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < runs; i++) run();
        return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)runs;
    }

    private static int BatchSize(Action run)
    {
        double once = TimeBatch(run, 1);
        return Math.Max(1, (int)(BatchSeconds / Math.Max(once, 1e-7)));
    }

    private static double TimeBatch(Action run, int count)
    {
        for (int i = 0; i < Math.Max(1, count / UntimedFraction); i++) run();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++) run();
        return Stopwatch.GetElapsedTime(start).TotalSeconds / count;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int middle = values.Count / 2;
        return values.Count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }
}
