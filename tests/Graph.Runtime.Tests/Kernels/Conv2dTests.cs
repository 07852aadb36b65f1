using System;
using System.Collections.Generic;
using Graph.Runtime.Kernels;
using static Graph.Runtime.Tests.Kernels.KernelTestData;

namespace Graph.Runtime.Tests.Kernels;

public class Conv2dTests
{
    /// <summary>Stride 1/2, padding 0/1/2, kernels 1/3/5, 1 or 3 input channels, odd image sizes.</summary>
    public static IEnumerable<object[]> Shapes()
    {
        foreach (int channels in new[] { 1, 3 })
            foreach (int kernel in new[] { 1, 3, 5 })
                foreach (int stride in new[] { 1, 2 })
                    foreach (int pad in new[] { 0, 1, 2 })
                        yield return [new Conv2dShape(channels, 9, 11, 4, kernel, kernel, stride, stride, pad, pad)];
        yield return [new Conv2dShape(2, 7, 5, 3, 3, 2, 2, 1, 1, 0)]; // non-square kernel, stride and padding
        yield return [new Conv2dShape(6, 12, 12, 16, 5, 5)];          // LeNet's second layer
        // Rows longer than one vector, vector-and-a-bit and exact vector widths, tall kernels, a kernel wider than
        // the image: the unit-stride unfold/fold paths' lane masks and spills past the row end.
        yield return [new Conv2dShape(2, 5, 17, 3, 3, 3, 1, 1, 1, 1)];
        yield return [new Conv2dShape(3, 4, 33, 2, 5, 5, 1, 1, 2, 2)];
        yield return [new Conv2dShape(2, 3, 16, 2, 3, 3, 1, 1, 0, 0)];
        yield return [new Conv2dShape(2, 6, 20, 3, 7, 7, 2, 1, 3, 3)];
        yield return [new Conv2dShape(1, 3, 2, 2, 5, 5, 1, 1, 2, 2)];
        yield return [new Conv2dShape(5, 14, 14, 7, 3, 3, 1, 1, 1, 1)]; // lenet-seed's second layer, fewer channels
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardMatchesReference(Conv2dShape s)
    {
        const int batch = 3;
        float[] input = Random(batch * s.InputImageLength, 1), weights = Random(s.WeightsLength, 2);
        var (expected, scale) = ReferenceKernels.ConvForward(s, batch, input, weights);
        var output = new float[expected.Length];
        var workspace = new float[Conv2d.WorkspaceLength(s, batch)];

        Conv2d.Forward(s, batch, input, weights, output, workspace);

        for (int i = 0; i < output.Length; i++) AssertClose(expected[i], scale[i], output[i], $"{s} output {i}");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardInputMatchesReference(Conv2dShape s)
    {
        const int batch = 3;
        float[] gradOutput = Random(batch * s.OutputImageLength, 3), weights = Random(s.WeightsLength, 4);
        var (expected, scale) = ReferenceKernels.ConvBackwardInput(s, batch, gradOutput, weights);
        float[] gradInput = Random(expected.Length, 5); // stale contents must be overwritten
        var workspace = new float[Conv2d.WorkspaceLength(s, batch)];

        Conv2d.BackwardInput(s, batch, gradOutput, weights, gradInput, workspace);

        for (int i = 0; i < gradInput.Length; i++) AssertClose(expected[i], scale[i], gradInput[i], $"{s} gradInput {i}");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardFilterMatchesReferenceWithAndWithoutAccumulation(Conv2dShape s)
    {
        const int batch = 5;
        float[] input = Random(batch * s.InputImageLength, 6), gradOutput = Random(batch * s.OutputImageLength, 7);
        var (expected, scale) = ReferenceKernels.ConvBackwardFilter(s, batch, input, gradOutput);
        var workspace = new float[Conv2d.WorkspaceLength(s, batch)];
        float[] previous = Random(s.WeightsLength, 8);

        float[] overwritten = (float[])previous.Clone();
        Conv2d.BackwardFilter(s, batch, input, gradOutput, overwritten, workspace, accumulate: false);
        float[] accumulated = (float[])previous.Clone();
        Conv2d.BackwardFilter(s, batch, input, gradOutput, accumulated, workspace, accumulate: true);

        for (int i = 0; i < expected.Length; i++)
        {
            AssertClose(expected[i], scale[i], overwritten[i], $"{s} gradWeights {i}");
            AssertClose(expected[i] + previous[i], scale[i] + 1, accumulated[i], $"{s} accumulated gradWeights {i}");
        }
    }

    public static IEnumerable<object[]> Isas() => SupportedIsas();

    [Theory]
    [MemberData(nameof(Isas))]
    public void AllPassesMatchReferenceOnEveryInstructionSet(KernelIsa isa)
    {
        foreach (var s in new[] { new Conv2dShape(3, 13, 12, 5, 3, 3, 2, 1, 1, 1), new Conv2dShape(2, 5, 19, 3, 3, 3, 1, 1, 1, 1),
                     new Conv2dShape(2, 4, 35, 3, 5, 3, 1, 1, 2, 1), new Conv2dShape(16, 7, 7, 32, 3, 3, 1, 1, 1, 1) })
            AllPassesMatchReference(isa, s);
    }

    private static void AllPassesMatchReference(KernelIsa isa, Conv2dShape s)
    {
        const int batch = 3;
        float[] input = Random(batch * s.InputImageLength, 20), weights = Random(s.WeightsLength, 21);
        float[] gradOutput = Random(batch * s.OutputImageLength, 22);
        var output = new float[gradOutput.Length];
        var gradInput = new float[input.Length];
        var gradWeights = new float[weights.Length];
        var workspace = new float[Conv2d.WorkspaceLength(s, batch)];

        WithIsa(isa, () =>
        {
            Conv2d.Forward(s, batch, input, weights, output, workspace);
            Conv2d.BackwardInput(s, batch, gradOutput, weights, gradInput, workspace);
            Conv2d.BackwardFilter(s, batch, input, gradOutput, gradWeights, workspace, accumulate: false);
        });

        var (expectedOutput, outputScale) = ReferenceKernels.ConvForward(s, batch, input, weights);
        var (expectedGradInput, gradInputScale) = ReferenceKernels.ConvBackwardInput(s, batch, gradOutput, weights);
        var (expectedGradWeights, gradWeightsScale) = ReferenceKernels.ConvBackwardFilter(s, batch, input, gradOutput);
        for (int i = 0; i < output.Length; i++) AssertClose(expectedOutput[i], outputScale[i], output[i], $"{isa} {s} output {i}");
        for (int i = 0; i < gradInput.Length; i++) AssertClose(expectedGradInput[i], gradInputScale[i], gradInput[i], $"{isa} {s} gradInput {i}");
        for (int i = 0; i < gradWeights.Length; i++) AssertClose(expectedGradWeights[i], gradWeightsScale[i], gradWeights[i], $"{isa} {s} gradWeights {i}");
    }

    [Fact]
    public void ForwardAppliesEpiloguePerOutputChannel()
    {
        var s = new Conv2dShape(3, 10, 10, 5, 3, 3, 1, 1, 1, 1);
        const int batch = 2;
        float[] input = Random(batch * s.InputImageLength, 9), weights = Random(s.WeightsLength, 10), bias = Random(5, 11);
        var (expected, scale) = ReferenceKernels.ConvForward(s, batch, input, weights);
        var output = new float[expected.Length];

        Conv2d.Forward(s, batch, input, weights, output, new float[Conv2d.WorkspaceLength(s, batch)], new BiasRowsReluEpilogue(bias));

        for (int i = 0; i < output.Length; i++)
        {
            int channel = i / s.OutSpatial % s.OutChannels;
            AssertClose(Math.Max(0, expected[i] + bias[channel]), scale[i] + 1, output[i], $"output {i}");
        }
    }

    /// <summary>
    /// Many channels on few output positions run the forward GEMM transposed (outputᵀ = columnsᵀ·weightsᵀ, then
    /// transposed back and finished per channel): lenet-seed's second layer and a small shape with a partial tile;
    /// a one-channel 3×3 patch (lenet-seed's first layer) is too short for the transpose to pay.
    /// </summary>
    [Theory]
    [InlineData(64, 14, 128)]
    [InlineData(16, 7, 32)]
    public void TransposedForwardMatchesReferenceWithEpilogue(int channels, int size, int outChannels)
    {
        var s = new Conv2dShape(channels, size, size, outChannels, 3, 3, 1, 1, 1, 1);
        Assert.True(Conv2d.ForwardTransposed(s, KernelIsaSelector.Current), $"{s} should take the transposed path");
        Assert.False(Conv2d.ForwardTransposed(new Conv2dShape(1, 28, 28, 64, 3, 3, 1, 1, 1, 1), KernelIsaSelector.Current));
        const int batch = 3;
        float[] input = Random(batch * s.InputImageLength, 30), weights = Random(s.WeightsLength, 31), bias = Random(outChannels, 32);
        var (expected, scale) = ReferenceKernels.ConvForward(s, batch, input, weights);
        var output = Random(expected.Length, 33);

        Conv2d.Forward(s, batch, input, weights, output, new float[Conv2d.WorkspaceLength(s, batch)], new BiasRowsReluEpilogue(bias));

        for (int i = 0; i < output.Length; i++)
        {
            int channel = i / s.OutSpatial % s.OutChannels;
            AssertClose(Math.Max(0, expected[i] + bias[channel]), scale[i] + 1, output[i], $"{s} output {i}");
        }
    }

    [Fact]
    public void WorkspaceForOneThreadIsEnough()
    {
        var s = new Conv2dShape(3, 8, 8, 4, 3, 3, 1, 1, 1, 1);
        const int batch = 4;
        float[] input = Random(batch * s.InputImageLength, 12), weights = Random(s.WeightsLength, 13);
        var (expected, scale) = ReferenceKernels.ConvForward(s, batch, input, weights);
        var output = new float[expected.Length];
        int oneThread = Conv2d.WorkspaceLength(s, batch: 1);

        Conv2d.Forward(s, batch, input, weights, output, new float[oneThread]);

        for (int i = 0; i < output.Length; i++) AssertClose(expected[i], scale[i], output[i], $"output {i}");
        Assert.Throws<ArgumentException>(() => Conv2d.Forward(s, batch, input, weights, output, new float[oneThread - 1]));
    }
}
