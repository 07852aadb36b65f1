using System;

namespace Graph.Runtime.Kernels;

/// <summary>
/// Per-thread scratch memory for kernels (GEMM pack buffers, edge tiles). Allocated on a thread's first kernel
/// call, grown only when a larger problem needs more, and reused afterwards, so steady-state calls allocate
/// nothing. Pinned, and handed out 64-byte aligned so that packed panels start on cache lines.
/// </summary>
internal sealed unsafe class KernelScratch
{
    private const int AlignmentFloats = 16;

    [ThreadStatic] private static KernelScratch? t_current;

    private float[] _buffer = [];
    private float* _aligned;

    /// <summary>The calling thread's scratch.</summary>
    public static KernelScratch Current => t_current ??= new KernelScratch();

    /// <summary>
    /// Returns at least <paramref name="floats"/> floats of 64-byte aligned memory, valid until the next call on
    /// this thread. The memory is pinned for the thread's lifetime, so raw pointers into it stay valid.
    /// </summary>
    public float* Get(nint floats)
    {
        if (_buffer.Length < floats + AlignmentFloats)
        {
            // Grow geometrically so a slowly increasing sequence of problem sizes reallocates only a few times.
            nint length = Math.Max(floats + AlignmentFloats, (nint)_buffer.Length * 3 / 2);
            _buffer = GC.AllocateUninitializedArray<float>(checked((int)length), pinned: true);
            fixed (float* start = _buffer) _aligned = (float*)(((nint)start + 63) & ~(nint)63);
        }
        return _aligned;
    }
}
