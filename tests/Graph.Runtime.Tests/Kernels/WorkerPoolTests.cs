using System;
using System.Threading;
using Graph.Runtime.Kernels;

namespace Graph.Runtime.Tests.Kernels;

[Collection(WorkerPoolCollection.Name)]
public class WorkerPoolTests
{
    /// <summary>Counts how often each part ran, and whether it was told the right part count.</summary>
    private sealed class CountingJob(int partCount, int slowPart = -1) : ParallelJob
    {
        public readonly int[] Runs = new int[partCount];
        public int WrongCounts;

        public override void Execute(int part, int count)
        {
            if (count != partCount) Interlocked.Increment(ref WrongCounts);
            if (part == slowPart) Thread.Sleep(2);
            Interlocked.Increment(ref Runs[part]);
        }
    }

    private sealed class ThrowingJob(int throwingPart) : ParallelJob
    {
        public int Completed;

        public override void Execute(int part, int partCount)
        {
            if (part == throwingPart) throw new InvalidOperationException($"part {part}");
            Interlocked.Increment(ref Completed);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void EveryPartRunsExactlyOnceBackToBack(int threads)
    {
        WithThreads(threads, () =>
        {
            // Back-to-back jobs of varying sizes: a late worker must never run a part of a finished job, or a part
            // twice; one part sleeping lets the other threads claim the rest.
            for (int round = 0; round < 2000; round++)
            {
                int parts = 2 + round % 37;
                var job = new CountingJob(parts, slowPart: round % 500 == 0 ? round % parts : -1);
                WorkerPool.Run(job, parts);
                Assert.All(job.Runs, runs => Assert.Equal(1, runs));
                Assert.Equal(0, job.WrongCounts);
            }
        });
    }

    [Fact]
    public void CallerRunsEveryPartWhenWorkersAreBusy()
    {
        WithThreads(2, () =>
        {
            // A job running on the pool starts a nested one: the workers are taken, so the nested job runs inline.
            var inner = new CountingJob(5);
            var outer = new NestingJob(inner);
            WorkerPool.Run(outer, 2);
            Assert.All(inner.Runs, runs => Assert.Equal(2, runs));
        });
    }

    private sealed class NestingJob(CountingJob inner) : ParallelJob
    {
        public override void Execute(int part, int partCount) => WorkerPool.Run(inner, 5);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5)]
    public void ExceptionOfAnyPartReachesTheCallerAndThePoolStaysUsable(int throwingPart)
    {
        WithThreads(2, () =>
        {
            var job = new ThrowingJob(throwingPart);
            var error = Assert.Throws<InvalidOperationException>(() => WorkerPool.Run(job, 8));
            Assert.Equal($"part {throwingPart}", error.Message);
            Assert.Equal(7, job.Completed);

            var next = new CountingJob(8);
            WorkerPool.Run(next, 8);
            Assert.All(next.Runs, runs => Assert.Equal(1, runs));
        });
    }

    private static void WithThreads(int threads, Action action)
    {
        int previous = WorkerPool.ThreadCount;
        WorkerPool.SetThreadCount(threads);
        try { action(); }
        finally { WorkerPool.SetThreadCount(previous); }
    }
}
