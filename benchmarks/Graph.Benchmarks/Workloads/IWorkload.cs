namespace Graph.Benchmarks.Workloads;

/// <summary>
/// One operation measured by <c>compare</c> in both Graph and TorchSharp. Implementations allocate everything in
/// <see cref="Setup"/> so that the run methods measure only the operation. To add one, implement this interface and
/// add a line to <see cref="WorkloadRegistry.All"/>.
/// </summary>
public interface IWorkload : System.IDisposable
{
    /// <summary>Command-line name, e.g. <c>gemm1024</c>.</summary>
    string Name { get; }

    /// <summary>One line saying what is measured.</summary>
    string Description { get; }

    /// <summary>Floating-point operations per run, for GFLOP/s; 0 where that is not meaningful (e.g. training steps).</summary>
    double FlopsPerRun { get; }

    /// <summary>Allocates and fills inputs for both implementations; torch's thread count is already set.</summary>
    void Setup();

    /// <summary>Runs the operation once with Graph.</summary>
    void RunGraph();

    /// <summary>Runs the operation once with TorchSharp.</summary>
    void RunTorch();

    /// <summary>After one run of each: the largest |Graph − Torch| over the results, as a sanity check.</summary>
    double MaxDifference();
}
