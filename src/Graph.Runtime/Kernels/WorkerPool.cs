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
/// Dispatch allocates nothing: a job is published as a ticket (generation, part count, next part) that workers spin on
/// briefly before they block, so back-to-back kernel calls reach them in well under a microsecond. Parts are claimed
/// from the ticket by whichever thread comes first, the caller included, so a worker that the operating system has
/// not scheduled (another process on its core) delays nothing: the caller runs the parts left over itself. Which
/// thread runs a part never changes what the part computes.
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

    // The published job: s_job is written before the ticket that announces it and stays until every part is done.
    // Ticket bits: generation (32) | part count (16) | next unclaimed part (16). A successful claim (compare-exchange
    // on the whole ticket) therefore proves the claimed part belongs to the job in s_job.
    private static ParallelJob? s_job;
    private static long s_ticket;
    private static int s_completedParts;
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
    /// Runs parts 0..<paramref name="partCount"/>-1 of <paramref name="job"/> on the calling thread and up to
    /// <see cref="ThreadCount"/> − 1 workers, and returns when all are done. If the workers are already in use, runs
    /// every part on the calling thread.
    /// </summary>
    internal static void Run(ParallelJob job, int partCount)
    {
        int threads = Math.Min(partCount, ThreadCount);
        if (threads <= 1 || partCount > ushort.MaxValue || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int part = 0; part < partCount; part++) job.Execute(part, partCount);
            return;
        }
        try
        {
            long ticket;
            lock (s_gate)
            {
                EnsureWorkers(threads - 1);
                s_job = job;
                s_failure = null;
                Volatile.Write(ref s_completedParts, 0);
                long generation = (Volatile.Read(ref s_ticket) >> 32) + 1;
                ticket = generation << 32 | (long)partCount << 16;
                Volatile.Write(ref s_ticket, ticket);
                if (s_sleepingWorkers > 0) Monitor.PulseAll(s_gate);
            }

            Exception? callerFailure = null;
            while (TryClaim(ticket, out int part))
            {
                try { job.Execute(part, partCount); }
                catch (Exception e) { callerFailure ??= e; }
                Interlocked.Increment(ref s_completedParts);
            }

            var spinner = new SpinWait();
            while (Volatile.Read(ref s_completedParts) != partCount) spinner.SpinOnce(sleep1Threshold: -1);

            if (callerFailure is not null) ExceptionDispatchInfo.Throw(callerFailure);
            s_failure?.Throw();
        }
        finally
        {
            s_job = null;
            Volatile.Write(ref s_busy, 0);
        }
    }

    /// <summary>Claims the next part of the job announced by <paramref name="ticket"/>'s generation, if any is left.</summary>
    private static bool TryClaim(long ticket, out int part)
    {
        while (true)
        {
            long current = Volatile.Read(ref s_ticket);
            part = (int)(current & 0xFFFF);
            int partCount = (int)(current >> 16 & 0xFFFF);
            if (current >> 32 != ticket >> 32 || part >= partCount) return false;
            if (Interlocked.CompareExchange(ref s_ticket, current + 1, current) == current) return true;
        }
    }

    private static void EnsureWorkers(int count)
    {
        if (s_workers.Length >= count) return;
        var workers = new Worker[count];
        Array.Copy(s_workers, workers, s_workers.Length);
        for (int i = s_workers.Length; i < count; i++) workers[i] = new Worker(i + 1, Volatile.Read(ref s_ticket));
        s_workers = workers;
    }

    private static int DefaultThreadCount() =>
        int.TryParse(Environment.GetEnvironmentVariable(ThreadCountVariable), out int n) && n >= 1
            ? n
            : Environment.ProcessorCount;

    private sealed class Worker
    {
        private readonly int _index;
        private long _seenGeneration;

        public Worker(int index, long currentTicket)
        {
            _index = index;
            _seenGeneration = currentTicket >> 32;
            new Thread(Loop) { IsBackground = true, Name = $"Graph kernel worker {index}" }.Start();
        }

        private void Loop()
        {
            // Created up front, so that the first part this worker runs allocates nothing managed.
            _ = KernelScratch.Current;
            while (true)
            {
                long ticket = WaitForNextGeneration();
                // Workers beyond the current thread count (it was lowered after they started) stay out.
                if (_index >= ThreadCount) continue;
                while (TryClaim(ticket, out int part))
                {
                    // The claim succeeded, so the job cannot finish (and s_job cannot change) before this part does.
                    ParallelJob job = s_job!;
                    try { job.Execute(part, (int)(ticket >> 16 & 0xFFFF)); }
                    catch (Exception e) { lock (s_gate) s_failure ??= ExceptionDispatchInfo.Capture(e); }
                    Interlocked.Increment(ref s_completedParts);
                }
            }
        }

        /// <summary>Waits for a ticket of a generation this worker has not seen yet and returns it.</summary>
        private long WaitForNextGeneration()
        {
            long deadline = Stopwatch.GetTimestamp() + s_spinTicksBeforeBlocking;
            for (int spin = 1; Stopwatch.GetTimestamp() < deadline; spin++)
            {
                long ticket = Volatile.Read(ref s_ticket);
                if (ticket >> 32 != _seenGeneration) { _seenGeneration = ticket >> 32; return ticket; }
                // Yield now and then: if the scheduler has put this worker on the caller's core, spinning there
                // would slow the caller's own part down.
                if (spin % 16 == 0) Thread.Yield();
                else Thread.SpinWait(20);
            }
            lock (s_gate)
            {
                while (Volatile.Read(ref s_ticket) >> 32 == _seenGeneration)
                {
                    s_sleepingWorkers++;
                    Monitor.Wait(s_gate);
                    s_sleepingWorkers--;
                }
                long ticket = Volatile.Read(ref s_ticket);
                _seenGeneration = ticket >> 32;
                return ticket;
            }
        }
    }
}
