using System;

namespace Graph.Runtime.Kernels;

/// <summary>
/// Geometry of a 2-D convolution over NCHW tensors: input [N, Channels, Height, Width], weights
/// [OutChannels, Channels, KernelH, KernelW], output [N, OutChannels, OutHeight, OutWidth] (PyTorch floor rounding).
/// </summary>
/// <param name="Channels">Input channels.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="OutChannels">Output channels (filters).</param>
/// <param name="KernelH">Kernel height.</param>
/// <param name="KernelW">Kernel width.</param>
/// <param name="StrideH">Vertical stride.</param>
/// <param name="StrideW">Horizontal stride.</param>
/// <param name="PadH">Zero padding added above and below.</param>
/// <param name="PadW">Zero padding added left and right.</param>
public readonly record struct Conv2dShape(int Channels, int Height, int Width, int OutChannels,
    int KernelH, int KernelW, int StrideH = 1, int StrideW = 1, int PadH = 0, int PadW = 0)
{
    /// <summary>Output height: (Height + 2·PadH − KernelH) / StrideH + 1.</summary>
    public int OutHeight => (Height + 2 * PadH - KernelH) / StrideH + 1;

    /// <summary>Output width: (Width + 2·PadW − KernelW) / StrideW + 1.</summary>
    public int OutWidth => (Width + 2 * PadW - KernelW) / StrideW + 1;

    /// <summary>Floats in one input image (Channels·Height·Width).</summary>
    public int InputImageLength => Channels * Height * Width;

    /// <summary>Floats in one output image (OutChannels·OutHeight·OutWidth).</summary>
    public int OutputImageLength => OutChannels * OutHeight * OutWidth;

    /// <summary>Floats in the weights (OutChannels·Channels·KernelH·KernelW).</summary>
    public int WeightsLength => OutChannels * PatchLength;

    /// <summary>Values under one filter (Channels·KernelH·KernelW): the GEMM's summed dimension.</summary>
    public int PatchLength => Channels * KernelH * KernelW;

    /// <summary>Output positions per image (OutHeight·OutWidth).</summary>
    public int OutSpatial => OutHeight * OutWidth;

    /// <summary>
    /// A 1×1, stride-1, unpadded convolution: its im2col matrix is the input image itself, so no copy is needed.
    /// </summary>
    public bool IsPointwise => KernelH == 1 && KernelW == 1 && StrideH == 1 && StrideW == 1 && PadH == 0 && PadW == 0;

    /// <summary>Throws if any dimension is out of range or the kernel does not fit the padded input.</summary>
    public void Validate()
    {
        if (Channels < 1 || Height < 1 || Width < 1 || OutChannels < 1 || KernelH < 1 || KernelW < 1
            || StrideH < 1 || StrideW < 1 || PadH < 0 || PadW < 0)
            throw new ArgumentException($"Invalid convolution shape {this}.");
        if (Height + 2 * PadH < KernelH || Width + 2 * PadW < KernelW)
            throw new ArgumentException($"The kernel does not fit the padded input in {this}.");
    }
}
