using System;
using Graph.Runtime.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Graph.Benchmarks.Workloads;

/// <summary>Convolution forward with bias over a batch: Graph's <see cref="Conv2d"/> against torch's conv2d.</summary>
public sealed class Conv2dForwardWorkload(string name, int batch, Conv2dShape shape) : IWorkload
{
    private float[] _input = [], _weights = [], _bias = [], _output = [], _workspace = [];
    private Tensor? _torchInput, _torchWeights, _torchBias, _torchOutput;

    public string Name => name;
    public string Description =>
        $"conv2d N={batch} {shape.Channels}×{shape.Height}×{shape.Width} → {shape.OutChannels}×{shape.OutHeight}×{shape.OutWidth}, " +
        $"{shape.KernelH}×{shape.KernelW} kernel, stride {shape.StrideH}, pad {shape.PadH}, + bias";
    public double FlopsPerRun => 2.0 * batch * shape.OutChannels * shape.OutSpatial * shape.PatchLength;

    public void Setup()
    {
        var random = new Random(42);
        _input = GemmWorkload.RandomArray(random, batch * shape.InputImageLength);
        _weights = GemmWorkload.RandomArray(random, shape.WeightsLength);
        _bias = GemmWorkload.RandomArray(random, shape.OutChannels);
        _output = new float[batch * shape.OutputImageLength];
        _workspace = new float[Conv2d.WorkspaceLength(shape, batch)];
        _torchInput = torch.tensor(_input, [batch, shape.Channels, shape.Height, shape.Width]);
        _torchWeights = torch.tensor(_weights, [shape.OutChannels, shape.Channels, shape.KernelH, shape.KernelW]);
        _torchBias = torch.tensor(_bias, [shape.OutChannels]);
    }

    public void RunGraph() =>
        Conv2d.Forward(shape, batch, _input, _weights, _output, _workspace, new BiasRowsEpilogue(_bias));

    public void RunTorch()
    {
        _torchOutput?.Dispose();
        _torchOutput = torch.nn.functional.conv2d(_torchInput!, _torchWeights!, _torchBias,
            strides: [shape.StrideH, shape.StrideW], padding: [shape.PadH, shape.PadW]);
    }

    public double MaxDifference() => Compare.MaxDifference(_output, _torchOutput!);

    public void Dispose()
    {
        _torchInput?.Dispose();
        _torchWeights?.Dispose();
        _torchBias?.Dispose();
        _torchOutput?.Dispose();
    }
}
