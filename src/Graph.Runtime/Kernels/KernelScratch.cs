using System;
using System.Runtime.InteropServices;

namespace Graph.Runtime.Kernels;

/// <summary>
/// Per-thread scratch memory for kernels (GEMM pack buffers, edge tiles). Allocated on a thread's first kernel
/// call, grown only when a larger problem needs more, and reused afterwards, so steady-state calls allocate
/// nothing. Native memory, 64-byte aligned so that packed panels start on cache lines: growing it (e.g. when a pool
/// worker runs a larger part than before) never allocates managed memory. Freed when the thread's instance is
/// collected after the thread ends.
/// </summary>
internal sealed unsafe class KernelScratch
{
    private const nuint Alignment = 64;

    [ThreadStatic] private static KernelScratch? t_current;

    private float* _buffer;
    private nint _length;

    /// <summary>The calling thread's scratch.</summary>
    public static KernelScratch Current => t_current ??= new KernelScratch();

    /// <summary>
    /// Returns at least <paramref name="floats"/> floats of 64-byte aligned memory, valid until the next call on
    /// this thread.
    /// </summary>
    public float* Get(nint floats)
    {
        if (_length < floats)
        {
            // Grow geometrically so a slowly increasing sequence of problem sizes reallocates only a few times.
            nint length = Math.Max(floats, _length * 3 / 2);
            NativeMemory.AlignedFree(_buffer);
            _buffer = null;
            _length = 0;
            _buffer = (float*)NativeMemory.AlignedAlloc(checked((nuint)length * sizeof(float)), Alignment);
            _length = length;
        }
        return _buffer;
    }

    ~KernelScratch() => NativeMemory.AlignedFree(_buffer);
}
