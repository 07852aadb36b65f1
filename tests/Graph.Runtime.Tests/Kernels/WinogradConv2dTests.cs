using System;
using System.Collections.Generic;
using Graph.Runtime.Kernels;
using static Graph.Runtime.Tests.Kernels.KernelTestData;

namespace Graph.Runtime.Tests.Kernels;

public class WinogradConv2dTests
{
    /// <summary>
    /// 3×3 stride-1 layers on awkward shapes: images from 1×1 (one partial tile) to 17×13 (odd sizes: tiles cut by the
    /// image edge), channels 1 to 64 on either side (channel padding to 16, partial GEMM tiles), padding 0 to 2, batches
    /// 1 and 3; images with more tiles than one chunk (33×35 with 64 channels), and groups of several images with a
    /// smaller last group (14² with 64 channels, batch 7; 6×4, batch 85).
    /// </summary>
    public static IEnumerable<object[]> Shapes()
    {
        (int Height, int Width)[] images = [(1, 1), (3, 3), (5, 7), (14, 14), (17, 13)];
        (int Channels, int OutChannels)[] channels = [(1, 1), (3, 17), (17, 3), (64, 17), (17, 64)];
        int index = 0;
        foreach (var (h, w) in images)
            foreach (var (c, o) in channels)
                for (int pad = 0; pad <= 2; pad++, index++)
                    if (h + 2 * pad >= 3 && w + 2 * pad >= 3)
                        yield return [new Conv2dShape(c, h, w, o, 3, 3, 1, 1, pad, pad), 1 + 2 * (index % 2)];
        yield return [new Conv2dShape(64, 33, 35, 64, 3, 3, 1, 1, 1, 1), 1];
        yield return [new Conv2dShape(64, 14, 14, 64, 3, 3, 1, 1, 1, 1), 7];
        yield return [new Conv2dShape(5, 6, 9, 4, 3, 3, 1, 1, 2, 0), 2]; // different padding per axis
        // 6 tiles per image, 42 images per group: a last group of one image, whose 6-row products take another GEMM
        // tile than the full groups' (so they pack the filters themselves).
        yield return [new Conv2dShape(64, 6, 4, 64, 3, 3, 1, 1, 1, 1), 85];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AllPassesMatchReference(Conv2dShape s, int batch)
    {
        PassesMatchReference(s, batch, $"{s} batch {batch}");
    }

    public static IEnumerable<object[]> IsaCases()
    {
        foreach (object[] isa in SupportedIsas())
        {
            yield return [isa[0], new Conv2dShape(17, 5, 7, 33, 3, 3, 1, 1, 1, 1)];
            yield return [isa[0], new Conv2dShape(64, 14, 14, 128, 3, 3, 1, 1, 1, 1)]; // lenet-seed's second layer
            yield return [isa[0], new Conv2dShape(3, 9, 6, 40, 3, 3, 1, 1, 0, 0)];
        }
    }

    [Theory]
    [MemberData(nameof(IsaCases))]
    public void EveryInstructionSetMatchesReference(KernelIsa isa, Conv2dShape s)
    {
        WithIsa(isa, () => PassesMatchReference(s, 3, $"{isa} {s}"));
    }

    [Fact]
    public void ForwardAppliesTheEpilogueOnceToEveryOutput()
    {
        var s = new Conv2dShape(32, 9, 11, 40, 3, 3, 1, 1, 1, 1);
        const int batch = 3;
        float[] input = Random(batch * s.InputImageLength, 30), weights = Random(s.WeightsLength, 31), bias = Random(s.OutChannels, 32);
        var output = new float[batch * s.OutputImageLength];
        Assert.Equal(Conv2dAlgorithm.Winograd, Conv2d.AlgorithmFor(s, ConvolutionPass.Forward));

        Conv2d.Forward(s, batch, input, weights, output, new float[Conv2d.WorkspaceLength(s, batch)], new BiasRowsReluEpilogue(bias));

        var (expected, scale) = ReferenceKernels.ConvForward(s, batch, input, weights);
        for (int i = 0; i < output.Length; i++)
        {
            int channel = i / s.OutSpatial % s.OutChannels;
            AssertClose(Math.Max(0, expected[i] + bias[channel]), scale[i] + Math.Abs(bias[channel]), output[i], $"output {i}");
        }
    }

    [Fact]
    public void DefaultChoiceIsWinogradForWide3x3LayersOnly()
    {
        var seed1 = new Conv2dShape(1, 28, 28, 64, 3, 3, 1, 1, 1, 1);
        var seed2 = new Conv2dShape(64, 14, 14, 128, 3, 3, 1, 1, 1, 1);
        foreach (var pass in Enum.GetValues<ConvolutionPass>())
        {
            Assert.Equal(Conv2dAlgorithm.Winograd, Conv2d.AlgorithmFor(seed2, pass));
            Assert.NotEqual(Conv2dAlgorithm.Winograd, Conv2d.AlgorithmFor(seed1, pass));
            Assert.NotEqual(Conv2dAlgorithm.Winograd, Conv2d.AlgorithmFor(seed2 with { StrideH = 2, StrideW = 2 }, pass));
            Assert.NotEqual(Conv2dAlgorithm.Winograd, Conv2d.AlgorithmFor(seed2 with { KernelH = 5, KernelW = 5 }, pass));
        }
        // Forcing it falls back where it does not apply: padding beyond 2, 5×5 kernels, strides.
        WithAlgorithm(Conv2dAlgorithm.Winograd, () =>
        {
            Assert.Equal(Conv2dAlgorithm.Winograd, Conv2d.AlgorithmFor(seed1, ConvolutionPass.Forward));
            Assert.Equal(Conv2dAlgorithm.Im2ColGemm, Conv2d.AlgorithmFor(seed2 with { PadH = 3, PadW = 3 }, ConvolutionPass.Forward));
            Assert.Equal(Conv2dAlgorithm.Im2ColGemm, Conv2d.AlgorithmFor(seed2 with { KernelW = 5 }, ConvolutionPass.BackwardInput));
            Assert.Equal(Conv2dAlgorithm.Im2ColGemm, Conv2d.AlgorithmFor(seed2 with { StrideW = 2 }, ConvolutionPass.BackwardFilter));
        });
    }

    /// <summary>
    /// Forward, input gradient and filter gradient (overwritten and accumulated) against the reference, within
    /// <see cref="AssertClose"/>'s tolerance, with Winograd forced (and checked to apply to the shape).
    /// </summary>
    private static void PassesMatchReference(Conv2dShape s, int batch, string context)
    {
        WithAlgorithm(Conv2dAlgorithm.Winograd, () =>
        {
            foreach (var pass in Enum.GetValues<ConvolutionPass>()) Assert.Equal(Conv2dAlgorithm.Winograd, Conv2d.AlgorithmFor(s, pass));
        });
        Conv2dTests.AllPassesMatchReference(s, batch, Conv2dAlgorithm.Winograd, context);
    }
}
