using System;
using System.Collections.Generic;
using Graph.Runtime.Kernels;

namespace Graph.Benchmarks.Workloads;

/// <summary>The workloads <c>compare</c> knows, in the order it runs them when none are named.</summary>
public static class WorkloadRegistry
{
    /// <summary>Name and factory of every workload (factories, so that unselected workloads allocate nothing).</summary>
    public static IReadOnlyList<(string Name, Func<IWorkload> Create)> All { get; } =
    [
        ("gemm256", () => new GemmWorkload(256)),
        ("gemm1024", () => new GemmWorkload(1024)),
        ("matvec1024", () => new GemmWorkload(1, 1024, 1024)),
        // LeNet-5's convolutions on a batch of 64 MNIST images (bias fused as an epilogue).
        ("conv-lenet1", () => new Conv2dForwardWorkload("conv-lenet1", 64, new Conv2dShape(1, 28, 28, 6, 5, 5, PadH: 2, PadW: 2))),
        ("conv-lenet2", () => new Conv2dForwardWorkload("conv-lenet2", 64, new Conv2dShape(6, 14, 14, 16, 5, 5))),
    ];
}
