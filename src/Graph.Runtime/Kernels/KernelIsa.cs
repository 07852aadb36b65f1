using System;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Graph.Runtime.Kernels;

/// <summary>Instruction-set levels the GEMM kernels are written for, from most portable to fastest.</summary>
public enum KernelIsa
{
    /// <summary>Plain scalar code; runs everywhere.</summary>
    Scalar,
    /// <summary>Portable SIMD through <see cref="Vector{T}"/> (whatever width the platform gives it).</summary>
    Vector,
    /// <summary>256-bit AVX2 with FMA.</summary>
    Avx2,
    /// <summary>512-bit AVX-512F (with FMA, which AVX-512F implies).</summary>
    Avx512,
}

/// <summary>Chooses the instruction set the kernels run with.</summary>
public static class KernelIsaSelector
{
    /// <summary>The fastest level this machine supports.</summary>
    public static KernelIsa Best { get; } = Detect();

    // Thread-static so that a test forcing a path cannot disturb tests running beside it. The level is
    // read once on the calling thread at the start of each kernel call and passed on to the workers.
    [ThreadStatic] private static KernelIsa? t_forced;

    /// <summary>
    /// Caps the level used by kernel calls made from the current thread (tests and benchmarks use it to
    /// exercise each path); <c>null</c> restores <see cref="Best"/>. A cap above <see cref="Best"/> has no effect.
    /// </summary>
    public static KernelIsa? ForcedOnThisThread
    {
        get => t_forced;
        set => t_forced = value;
    }

    /// <summary>The level kernel calls from the current thread use.</summary>
    public static KernelIsa Current => t_forced is { } forced && forced < Best ? forced : Best;

    private static KernelIsa Detect()
    {
        if (Avx512F.IsSupported && Vector512.IsHardwareAccelerated) return KernelIsa.Avx512;
        if (Avx2.IsSupported && Fma.IsSupported) return KernelIsa.Avx2;
        if (Vector.IsHardwareAccelerated) return KernelIsa.Vector;
        return KernelIsa.Scalar;
    }
}
