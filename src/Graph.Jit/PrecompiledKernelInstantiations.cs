using Graph.Runtime.Kernels;

namespace Graph.Jit;

/// <summary>
/// Never called. Emitted code calls the kernels' generic entry points with <see cref="JitEpilogue"/> and nothing else in
/// the assembly does, so ReadyToRun (Directory.Build.targets) would leave those instantiations to the .NET JIT at the
/// first training step. Referencing them here makes crossgen2 compile them into Graph.Jit's image.
/// </summary>
internal static class PrecompiledKernelInstantiations
{
    internal static void Reference()
    {
        var epilogue = default(JitEpilogue);
        Gemm.Multiply(default, default, 0, 0, 0, default, 0, default, 0, default, 0, false, epilogue);
        Conv2d.Forward(default(Conv2dShape), 0, default, default, default, default, epilogue);
    }
}
