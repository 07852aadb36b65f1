using System;

namespace Graph.Runtime.Kernels;

/// <summary>A compiled epilogue: finishes a run of a GEMM or convolution output in place.</summary>
internal delegate void EpilogueBody(Span<float> values, int row, int col, int batch, long step);

/// <summary>
/// The one epilogue struct the run-time JIT (Graph.Jit) passes to <see cref="Gemm.Multiply{TEpilogue}"/> and
/// <see cref="Conv2d.Forward{TEpilogue}"/>: it forwards each finished run to the kernel's compiled body.
/// One struct type for every kernel means the generic GEMM and convolution drivers are specialized once, not once per
/// model kernel. It lives here, not in Graph.Jit, so those specializations are compiled into this assembly's
/// ReadyToRun image (<see cref="PrecompiledDelegateEpilogueInstantiations"/>): crossgen2 does not compile another
/// assembly's generic code that calls static abstract interface members (the drivers' micro-kernel and epilogue calls).
/// </summary>
internal readonly struct DelegateEpilogue : IEpilogue
{
    private readonly EpilogueBody _body;
    private readonly int _batch;
    private readonly long _step;

    public DelegateEpilogue(EpilogueBody body, int batch, long step)
    {
        _body = body;
        _batch = batch;
        _step = step;
    }

    public void Apply(Span<float> values, int row, int col) => _body(values, row, col, _batch, _step);
}

/// <summary>
/// Never called. Nothing in this assembly calls the kernels with <see cref="DelegateEpilogue"/>, so ReadyToRun would
/// leave those instantiations to the .NET JIT at a JIT-compiled model's first step; referencing them here makes
/// crossgen2 compile them into the image.
/// </summary>
internal static class PrecompiledDelegateEpilogueInstantiations
{
    internal static void Reference()
    {
        var epilogue = default(DelegateEpilogue);
        Gemm.Multiply(default, default, 0, 0, 0, default, 0, default, 0, default, 0, false, epilogue);
        Conv2d.Forward(default(Conv2dShape), 0, default, default, default, default, epilogue);
    }
}
