using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Runtime.Kernels;
using static Graph.Runtime.Tests.Kernels.KernelTestData;

namespace Graph.Runtime.Tests.Kernels;

public class Conv2dTests
{
    /// <summary>
    /// Stride 1/2, padding 0/1/2, kernels 1/3/5, 1 or 3 input channels, odd image sizes, each with both algorithms
    /// forced (the direct one falls back to im2col where it does not apply: stride 2, padding ≥ kernel).
    /// </summary>
    public static IEnumerable<object[]> Shapes()
    {
        foreach (var algorithm in Enum.GetValues<Conv2dAlgorithm>())
        {
            foreach (int channels in new[] { 1, 3 })
                foreach (int kernel in new[] { 1, 3, 5 })
                    foreach (int stride in new[] { 1, 2 })
                        foreach (int pad in new[] { 0, 1, 2 })
                            yield return [new Conv2dShape(channels, 9, 11, 4, kernel, kernel, stride, stride, pad, pad), algorithm];
            yield return [new Conv2dShape(2, 7, 5, 3, 3, 2, 2, 1, 1, 0), algorithm]; // non-square kernel, stride and padding
            yield return [new Conv2dShape(6, 12, 12, 16, 5, 5), algorithm];          // LeNet's second layer
            // Rows longer than one vector, vector-and-a-bit and exact vector widths, tall kernels, a kernel wider than
            // the image: the unit-stride unfold/fold paths' lane masks and spills past the row end.
            yield return [new Conv2dShape(2, 5, 17, 3, 3, 3, 1, 1, 1, 1), algorithm];
            yield return [new Conv2dShape(3, 4, 33, 2, 5, 5, 1, 1, 2, 2), algorithm];
            yield return [new Conv2dShape(2, 3, 16, 2, 3, 3, 1, 1, 0, 0), algorithm];
            yield return [new Conv2dShape(2, 6, 20, 3, 7, 7, 2, 1, 3, 3), algorithm];
            yield return [new Conv2dShape(1, 3, 2, 2, 5, 5, 1, 1, 2, 2), algorithm];
            yield return [new Conv2dShape(5, 14, 14, 7, 3, 3, 1, 1, 1, 1), algorithm]; // lenet-seed's second layer, fewer channels
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardMatchesReference(Conv2dShape s, Conv2dAlgorithm algorithm)
    {
        const int batch = 3;
        float[] input = Random(batch * s.InputImageLength, 1), weights = Random(s.WeightsLength, 2);
        var (expected, scale) = ReferenceKernels.ConvForward(s, batch, input, weights);
        var output = new float[expected.Length];

        WithAlgorithm(algorithm, () => Conv2d.Forward(s, batch, input, weights, output, new float[Conv2d.WorkspaceLength(s, batch)]));

        for (int i = 0; i < output.Length; i++) AssertClose(expected[i], scale[i], output[i], $"{s} output {i}");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardInputMatchesReference(Conv2dShape s, Conv2dAlgorithm algorithm)
    {
        const int batch = 3;
        float[] gradOutput = Random(batch * s.OutputImageLength, 3), weights = Random(s.WeightsLength, 4);
        var (expected, scale) = ReferenceKernels.ConvBackwardInput(s, batch, gradOutput, weights);
        float[] gradInput = Random(expected.Length, 5); // stale contents must be overwritten

        WithAlgorithm(algorithm, () => Conv2d.BackwardInput(s, batch, gradOutput, weights, gradInput, new float[Conv2d.WorkspaceLength(s, batch)]));

        for (int i = 0; i < gradInput.Length; i++) AssertClose(expected[i], scale[i], gradInput[i], $"{s} gradInput {i}");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BackwardFilterMatchesReferenceWithAndWithoutAccumulation(Conv2dShape s, Conv2dAlgorithm algorithm)
    {
        const int batch = 5;
        float[] input = Random(batch * s.InputImageLength, 6), gradOutput = Random(batch * s.OutputImageLength, 7);
        var (expected, scale) = ReferenceKernels.ConvBackwardFilter(s, batch, input, gradOutput);
        float[] previous = Random(s.WeightsLength, 8);

        float[] overwritten = (float[])previous.Clone();
        float[] accumulated = (float[])previous.Clone();
        WithAlgorithm(algorithm, () =>
        {
            var workspace = new float[Conv2d.WorkspaceLength(s, batch)];
            Conv2d.BackwardFilter(s, batch, input, gradOutput, overwritten, workspace, accumulate: false);
            Conv2d.BackwardFilter(s, batch, input, gradOutput, accumulated, workspace, accumulate: true);
        });

        for (int i = 0; i < expected.Length; i++)
        {
            AssertClose(expected[i], scale[i], overwritten[i], $"{s} gradWeights {i}");
            AssertClose(expected[i] + previous[i], scale[i] + 1, accumulated[i], $"{s} accumulated gradWeights {i}");
        }
    }

    /// <summary>Every instruction set × algorithm, on a strided shape (im2col only) and a stride-1 one whose 17
    /// output channels and 37 columns leave partial register tiles on the direct path.</summary>
    public static IEnumerable<object[]> IsaCases()
    {
        foreach (object[] isa in SupportedIsas())
            foreach (var algorithm in Enum.GetValues<Conv2dAlgorithm>())
            {
                yield return [isa[0], algorithm, new Conv2dShape(3, 13, 12, 5, 3, 3, 2, 1, 1, 1)];
                yield return [isa[0], algorithm, new Conv2dShape(3, 13, 37, 17, 5, 3, 1, 1, 2, 1)];
                // Rows longer than a vector (unfold/fold lane masks) and many channels (the transposed forward GEMM).
                yield return [isa[0], algorithm, new Conv2dShape(2, 5, 19, 3, 3, 3, 1, 1, 1, 1)];
                yield return [isa[0], algorithm, new Conv2dShape(2, 4, 35, 3, 5, 3, 1, 1, 2, 1)];
                yield return [isa[0], algorithm, new Conv2dShape(16, 7, 7, 32, 3, 3, 1, 1, 1, 1)];
                // Less padding than half the kernel: the direct path scatters the input gradient (17 channels: 3 blocks).
                yield return [isa[0], algorithm, new Conv2dShape(17, 9, 23, 5, 5, 3, 1, 1, 1, 0)];
                yield return [isa[0], algorithm, new Conv2dShape(6, 14, 14, 16, 5, 5)];
                // Kernels taller and wider than one channel-lane filter-gradient tile (7×6: blocks of 3 + 4 rows, 3 + 3 columns).
                yield return [isa[0], algorithm, new Conv2dShape(2, 9, 10, 16, 7, 6, 1, 1, 1, 0)];
            }
    }

    /// <summary>
    /// Shapes neither the direct nor the Winograd path takes (a strided, padded 1×1 kernel on a 1×1 image, from a fuzz
    /// run): choosing the algorithm must not size those paths' workspaces, which assume shapes they support.
    /// </summary>
    [Theory]
    [InlineData(2, 1, 1, 1, 1, 2, 1)]
    [InlineData(3, 2, 3, 4, 1, 2, 1)]
    [InlineData(2, 5, 5, 3, 3, 2, 1)]
    public void ShapesOnlyTheGemmTakesRunEveryPass(int channels, int height, int width, int outChannels, int kernel, int stride, int pad)
    {
        var s = new Conv2dShape(channels, height, width, outChannels, kernel, kernel, stride, stride, pad, pad);
        foreach (var pass in Enum.GetValues<ConvolutionPass>()) Assert.Equal(Conv2dAlgorithm.Im2ColGemm, Conv2d.AlgorithmFor(s, pass));
        AllPassesMatchReference(s, batch: 2, Conv2dAlgorithm.Im2ColGemm, s.ToString());
    }

    [Theory]
    [MemberData(nameof(IsaCases))]
    public void AllPassesMatchReferenceOnEveryInstructionSet(KernelIsa isa, Conv2dAlgorithm algorithm, Conv2dShape s)
    {
        WithIsa(isa, () => AllPassesMatchReference(s, batch: 3, algorithm, $"{isa} {algorithm}"));
    }

    /// <summary>
    /// The direct path on awkward shapes: 1 to 17 channels on either side (partial tiles of rows and taps), images
    /// from 1 row to wider than three vectors, kernels 1/3/5 (square or not) with every padding below the kernel,
    /// batches 1 to 5.
    /// </summary>
    public static IEnumerable<object[]> DirectShapes()
    {
        (int Channels, int OutChannels)[] channels = [(1, 1), (1, 6), (2, 17), (17, 3), (6, 16), (5, 9)];
        int[] kernels = [1, 3, 5];
        int index = 0;
        foreach (var (c, o) in channels)
            foreach (int kernel in kernels)
                for (int pad = 0; pad < kernel && pad <= 2; pad++, index++)
                {
                    int height = kernel + index % 4, width = kernel + 3 + index * 7 % 45;
                    yield return [new Conv2dShape(c, height, width, o, kernel, kernel, 1, 1, pad, pad), 1 + index % 5];
                }
        yield return [new Conv2dShape(1, 28, 28, 6, 5, 5, 1, 1, 2, 2), 2];   // LeNet-5's first layer
        yield return [new Conv2dShape(6, 14, 14, 16, 5, 5), 19];             // LeNet-5's second layer: several filter-gradient chunks of images per thread
        yield return [new Conv2dShape(1, 28, 28, 64, 3, 3, 1, 1, 1, 1), 2]; // lenet-seed's first layer
        yield return [new Conv2dShape(3, 1, 40, 4, 1, 3, 1, 1, 0, 1), 2];   // one row, 1×3 kernel
        yield return [new Conv2dShape(2, 9, 6, 5, 5, 2, 1, 1, 4, 1), 4];    // padding kernel − 1
    }

    [Theory]
    [MemberData(nameof(DirectShapes))]
    public void DirectPathMatchesReference(Conv2dShape s, int batch)
    {
        WithAlgorithm(Conv2dAlgorithm.Direct, () =>
        {
            foreach (var pass in Enum.GetValues<ConvolutionPass>()) Assert.Equal(Conv2dAlgorithm.Direct, Conv2d.AlgorithmFor(s, pass));
            AllPassesMatchReference(s, batch, Conv2dAlgorithm.Direct, $"{s} batch {batch}");
        });
    }

    [Fact]
    public void DirectPathIsOnlyUsedWhereItApplies()
    {
        WithAlgorithm(Conv2dAlgorithm.Direct, () =>
        {
            Assert.Equal(Conv2dAlgorithm.Im2ColGemm, Conv2d.AlgorithmFor(new Conv2dShape(1, 9, 9, 4, 3, 3, 2, 2, 1, 1), ConvolutionPass.Forward));
            Assert.Equal(Conv2dAlgorithm.Im2ColGemm, Conv2d.AlgorithmFor(new Conv2dShape(1, 9, 9, 4, 3, 3, 1, 1, 3, 3), ConvolutionPass.Forward));
        });
        // The default choice (see AlgorithmFor): LeNet-5 goes direct, lenet-seed's first forward pass (9 taps) keeps
        // the GEMM, as do pointwise convolutions; its second layer (64→128 3×3) takes Winograd.
        var lenet1 = new Conv2dShape(1, 28, 28, 6, 5, 5, 1, 1, 2, 2);
        var seed1 = new Conv2dShape(1, 28, 28, 64, 3, 3, 1, 1, 1, 1);
        var seed2 = new Conv2dShape(64, 14, 14, 128, 3, 3, 1, 1, 1, 1);
        foreach (var pass in Enum.GetValues<ConvolutionPass>())
        {
            Assert.Equal(Conv2dAlgorithm.Direct, Conv2d.AlgorithmFor(lenet1, pass));
            Assert.Equal(Conv2dAlgorithm.Im2ColGemm, Conv2d.AlgorithmFor(new Conv2dShape(3, 14, 14, 8, 1, 1), pass));
        }
        // The direct input gradient scatters where the forward padding is below half the kernel − 1 (LeNet-5's second
        // layer), and gathers on its own padded geometry otherwise (the lane layouts themselves are tested above:
        // DirectShapes and IsaCases include both forms of both gradients).
        Assert.True(DirectConv2d.ScattersInputGradient(new Conv2dShape(6, 14, 14, 16, 5, 5)));
        Assert.False(DirectConv2d.ScattersInputGradient(lenet1));
        Assert.False(DirectConv2d.ScattersInputGradient(seed2));
        // Its forward pass and filter gradient put the 16 output channels along the lanes (10-wide rows would fill 69 % of them).
        Assert.True(DirectConv2d.ChannelLanes(new Conv2dShape(6, 14, 14, 16, 5, 5)));
        Assert.False(DirectConv2d.ChannelLanes(lenet1));
        Assert.False(DirectConv2d.ChannelLanes(seed1));
        Assert.Equal(Conv2dAlgorithm.Im2ColGemm, Conv2d.AlgorithmFor(seed1, ConvolutionPass.Forward));
        Assert.Equal(Conv2dAlgorithm.Direct, Conv2d.AlgorithmFor(seed1, ConvolutionPass.BackwardFilter));
        foreach (var pass in Enum.GetValues<ConvolutionPass>()) Assert.Equal(Conv2dAlgorithm.Winograd, Conv2d.AlgorithmFor(seed2, pass));
        // A filter gradient of more than DirectMaxFilterWeights keeps the GEMM.
        Assert.Equal(Conv2dAlgorithm.Im2ColGemm, Conv2d.AlgorithmFor(seed2 with { KernelH = 5, KernelW = 5 }, ConvolutionPass.BackwardFilter));
        // Wider layers than the direct path was measured on stay on the GEMM (but 3×3 ones, which take Winograd).
        var wide = new Conv2dShape(128, 14, 14, 256, 5, 5, 1, 1, 2, 2);
        foreach (var pass in Enum.GetValues<ConvolutionPass>()) Assert.Equal(Conv2dAlgorithm.Im2ColGemm, Conv2d.AlgorithmFor(wide, pass));
    }

    /// <summary>Forward, input gradient and filter gradient (overwritten and accumulated) against the reference.</summary>
    internal static void AllPassesMatchReference(Conv2dShape s, int batch, Conv2dAlgorithm algorithm, string context)
    {
        float[] input = Random(batch * s.InputImageLength, 20), weights = Random(s.WeightsLength, 21);
        float[] gradOutput = Random(batch * s.OutputImageLength, 22), previous = Random(s.WeightsLength, 23);
        var output = new float[gradOutput.Length];
        float[] gradInput = Random(input.Length, 24); // stale contents must be overwritten
        var gradWeights = new float[weights.Length];
        float[] accumulated = (float[])previous.Clone();

        WithAlgorithm(algorithm, () =>
        {
            var workspace = new float[Conv2d.WorkspaceLength(s, batch)];
            Conv2d.Forward(s, batch, input, weights, output, workspace);
            Conv2d.BackwardInput(s, batch, gradOutput, weights, gradInput, workspace);
            Conv2d.BackwardFilter(s, batch, input, gradOutput, gradWeights, workspace, accumulate: false);
            Conv2d.BackwardFilter(s, batch, input, gradOutput, accumulated, workspace, accumulate: true);
        });

        var (expectedOutput, outputScale) = ReferenceKernels.ConvForward(s, batch, input, weights);
        var (expectedGradInput, gradInputScale) = ReferenceKernels.ConvBackwardInput(s, batch, gradOutput, weights);
        var (expectedGradWeights, gradWeightsScale) = ReferenceKernels.ConvBackwardFilter(s, batch, input, gradOutput);
        for (int i = 0; i < output.Length; i++) AssertClose(expectedOutput[i], outputScale[i], output[i], $"{context} output {i}");
        for (int i = 0; i < gradInput.Length; i++) AssertClose(expectedGradInput[i], gradInputScale[i], gradInput[i], $"{context} gradInput {i}");
        for (int i = 0; i < gradWeights.Length; i++)
        {
            AssertClose(expectedGradWeights[i], gradWeightsScale[i], gradWeights[i], $"{context} gradWeights {i}");
            AssertClose(expectedGradWeights[i] + previous[i], gradWeightsScale[i] + 1, accumulated[i], $"{context} accumulated gradWeights {i}");
        }
    }

    public static IEnumerable<object[]> Algorithms() => Enum.GetValues<Conv2dAlgorithm>().Select(a => new object[] { a });

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void ForwardAppliesEpiloguePerOutputChannel(Conv2dAlgorithm algorithm)
    {
        var s = new Conv2dShape(3, 10, 10, 5, 3, 3, 1, 1, 1, 1);
        const int batch = 2;
        float[] input = Random(batch * s.InputImageLength, 9), weights = Random(s.WeightsLength, 10), bias = Random(5, 11);
        var (expected, scale) = ReferenceKernels.ConvForward(s, batch, input, weights);
        var output = new float[expected.Length];

        WithAlgorithm(algorithm, () => Conv2d.Forward(s, batch, input, weights, output,
            new float[Conv2d.WorkspaceLength(s, batch)], new BiasRowsReluEpilogue(bias)));

        for (int i = 0; i < output.Length; i++)
        {
            int channel = i / s.OutSpatial % s.OutChannels;
            AssertClose(Math.Max(0, expected[i] + bias[channel]), scale[i] + 1, output[i], $"output {i}");
        }
    }

    /// <summary>
    /// Many channels on few output positions run the forward GEMM (when im2col is the algorithm) transposed (outputᵀ = columnsᵀ·weightsᵀ, then
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

        WithAlgorithm(Conv2dAlgorithm.Im2ColGemm, () =>
            Conv2d.Forward(s, batch, input, weights, output, new float[Conv2d.WorkspaceLength(s, batch)], new BiasRowsReluEpilogue(bias)));

        for (int i = 0; i < output.Length; i++)
        {
            int channel = i / s.OutSpatial % s.OutChannels;
            AssertClose(Math.Max(0, expected[i] + bias[channel]), scale[i] + 1, output[i], $"{s} output {i}");
        }
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void WorkspaceForOneThreadIsEnough(Conv2dAlgorithm algorithm)
    {
        WithAlgorithm(algorithm, CheckOneThreadWorkspace);
    }

    private static void CheckOneThreadWorkspace()
    {
        var s = new Conv2dShape(3, 8, 8, 4, 3, 3, 1, 1, 1, 1);
        const int batch = 4;
        float[] input = Random(batch * s.InputImageLength, 12), weights = Random(s.WeightsLength, 13);
        var (expected, scale) = ReferenceKernels.ConvForward(s, batch, input, weights);
        var output = new float[expected.Length];
        int oneThread = Conv2d.WorkspaceLength(s, batch: 1);

        Conv2d.Forward(s, batch, input, weights, output, new float[oneThread]);

        for (int i = 0; i < output.Length; i++) AssertClose(expected[i], scale[i], output[i], $"output {i}");
        // The share is exact: some pass (the filter gradient on im2col and direct, the forward pass or the input
        // gradient with Winograd) refuses one float less.
        var tooSmall = new float[oneThread - 1];
        var gradInput = new float[input.Length];
        static bool Refused(Action pass)
        {
            try { pass(); return false; }
            catch (ArgumentException) { return true; }
        }
        Assert.True(Refused(() => Conv2d.Forward(s, batch, input, weights, output, tooSmall))
            || Refused(() => Conv2d.BackwardInput(s, batch, output, weights, gradInput, tooSmall))
            || Refused(() => Conv2d.BackwardFilter(s, batch, input, output, new float[s.WeightsLength], tooSmall, accumulate: false)));
    }
}
