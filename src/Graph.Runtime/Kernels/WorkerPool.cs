using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Graph.Runtime.Kernels;

/// <summary>
/// A unit of parallel work split into a fixed number of parts. Which part a thread runs never changes what a part
/// computes, so results do not depend on thread timing. Kernels keep one instance per calling thread and reuse it.
/// </summary>
internal abstract class ParallelJob
{
    /// <summary>Runs part <paramref name="part"/> of <paramref name="partCount"/>.</summary>
    public abstract void Execute(int part, int partCount);
}

/// <summary>
/// The threads the kernels split their work across: the calling thread plus dedicated background workers.
/// Dispatch allocates nothing: a job is published by bumping a generation counter that workers spin on briefly
/// before they block, so back-to-back kernel calls wake them in well under a microsecond.
/// </summary>
public static class WorkerPool
{
    private const string ThreadCountVariable = "GRAPH_NUM_THREADS";

    // A worker spins this long for the next job before it blocks: long enough to bridge the gaps between the
    // kernels of one training step, short enough not to steal a core from the rest of the program for long.
    private static readonly long s_spinTicksBeforeBlocking = Stopwatch.Frequency / 2_000; // 500 µs

    private static readonly object s_gate = new();
    private static Worker[] s_workers = [];
    private static int s_threadCount = DefaultThreadCount();

    // Published job state; written under s_gate before s_generation is bumped.
    private static ParallelJob? s_job;
    private static int s_partCount;
    private static long s_generation;
    private static int s_pendingParts;
    private static int s_sleepingWorkers;
    private static ExceptionDispatchInfo? s_failure;

    // 1 while a caller owns the workers; a second caller (another thread, or a kernel nested in a job) runs inline.
    private static int s_busy;

    /// <summary>
    /// How many threads (the caller included) kernels use. Defaults to the <c>GRAPH_NUM_THREADS</c> environment
    /// variable, or else <see cref="Environment.ProcessorCount"/>.
    /// </summary>
    public static int ThreadCount => Volatile.Read(ref s_threadCount);

    /// <summary>
    /// Sets how many threads (the caller included) later kernel calls use; 1 runs everything on the calling thread.
    /// GEMM results do not depend on it; convolution filter gradients sum per-thread partials, so they may differ
    /// in the last bits between thread counts (but never between runs with the same count).
    /// </summary>
    public static void SetThreadCount(int threadCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threadCount, 1);
        lock (s_gate) Volatile.Write(ref s_threadCount, threadCount);
    }

    /// <summary>
    /// Runs parts 0..<paramref name="partCount"/>-1 of <paramref name="job"/>, part 0 on the calling thread, and
    /// returns when all are done. If the workers are already in use, runs every part on the calling thread.
    /// </summary>
    internal static void Run(ParallelJob job, int partCount)
    {
        if (partCount <= 1 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int part = 0; part < partCount; part++) job.Execute(part, partCount);
            return;
        }
        try
        {
            lock (s_gate)
            {
                EnsureWorkers(partCount - 1);
                s_job = job;
                s_partCount = partCount;
                s_failure = null;
                // Every worker acknowledges every generation, even one with no part to run, so that none can
                // still be reading this job's state when the next one is published.
                Volatile.Write(ref s_pendingParts, s_workers.Length);
                Volatile.Write(ref s_generation, s_generation + 1);
                if (s_sleepingWorkers > 0) Monitor.PulseAll(s_gate);
            }
            Exception? callerFailure = null;

            try { job.Execute(0, partCount); }
            catch (Exception e) { callerFailure = e; }

            var spinner = new SpinWait();
            while (Volatile.Read(ref s_pendingParts) != 0) spinner.SpinOnce(sleep1Threshold: -1);

            if (callerFailure is not null) ExceptionDispatchInfo.Throw(callerFailure);
            s_failure?.Throw();
        }
        finally
        {
            s_job = null;
            Volatile.Write(ref s_busy, 0);
        }
    }

    private static void EnsureWorkers(int count)
    {
        if (s_workers.Length >= count) return;
        var workers = new Worker[count];
        Array.Copy(s_workers, workers, s_workers.Length);
        for (int i = s_workers.Length; i < count; i++) workers[i] = new Worker(i + 1, s_generation);
        s_workers = workers;
    }

    private static int DefaultThreadCount() =>
        int.TryParse(Environment.GetEnvironmentVariable(ThreadCountVariable), out int n) && n >= 1
            ? n
            : Environment.ProcessorCount;

    private sealed class Worker
    {
        private readonly int _part;
        private long _seenGeneration;

        public Worker(int part, long currentGeneration)
        {
            _part = part;
            _seenGeneration = currentGeneration;
            new Thread(Loop) { IsBackground = true, Name = $"Graph kernel worker {part}" }.Start();
        }

        private void Loop()
        {
            while (true)
            {
                WaitForNextGeneration();
                ParallelJob? job = s_job;
                int partCount = s_partCount;
                if (_part < partCount)
                {
                    try { job!.Execute(_part, partCount); }
                    catch (Exception e) { lock (s_gate) s_failure ??= ExceptionDispatchInfo.Capture(e); }
                }
                Interlocked.Decrement(ref s_pendingParts);
            }
        }

        private void WaitForNextGeneration()
        {
            long deadline = Stopwatch.GetTimestamp() + s_spinTicksBeforeBlocking;
            for (int spin = 1; Stopwatch.GetTimestamp() < deadline; spin++)
            {
                long generation = Volatile.Read(ref s_generation);
                if (generation != _seenGeneration) { _seenGeneration = generation; return; }
                // Yield now and then: if the scheduler has put this worker on the caller's core, spinning there
                // would slow the caller's own part down.
                if (spin % 16 == 0) Thread.Yield();
                else Thread.SpinWait(20);
            }
            lock (s_gate)
            {
                while (Volatile.Read(ref s_generation) == _seenGeneration)
                {
                    s_sleepingWorkers++;
                    Monitor.Wait(s_gate);
                    s_sleepingWorkers--;
                }
                _seenGeneration = s_generation;
            }
        }
    }
}
