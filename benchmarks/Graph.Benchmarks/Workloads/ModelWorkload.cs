using System;
using System.Linq;
using System.Runtime.InteropServices;
using Graph.Runtime.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Graph.Benchmarks.Workloads;

/// <summary>What a model workload times: a whole training step, or a forward pass only.</summary>
public enum ModelRun
{
    /// <summary>Forward + loss + backward + optimizer update (torch: zero_grad, forward, loss, backward, step).</summary>
    TrainStep,
    /// <summary>Forward only (Graph's Predict; torch's forward under no_grad in eval mode).</summary>
    Inference,
}

/// <summary>
/// One model in both frameworks: <paramref name="graphModel"/> creates Graph's compiled model (a generated <c>[Model]</c>
/// class, or anything else implementing <see cref="ISupervisedModel{TLabel}"/>, e.g. a run-time compiled one) and
/// <paramref name="torchModel"/> the same network from torch.nn modules. Setup copies Graph's initial parameters into
/// torch (dense weights transposed: Graph stores [in, out], torch [out, in]), feeds both the same data and sets up the
/// same optimizer; both run on all cores (the thread count of <c>compare</c>/the benchmark).
/// Classifier training steps walk through the bundled MNIST training set batch by batch, as training does: repeating
/// one batch thousands of times lets the network memorize it until its logit margins make exp() and Adam's moments
/// subnormal, and subnormal arithmetic (on both sides) then dominates the step. Each side copies the next batch into
/// its model's input storage inside the timed step: Graph through the span overload of TrainStep, torch with copy_
/// into its resident input tensors. Inference and regression keep one resident batch.
/// <see cref="MaxDifference"/> reports the largest difference of the parameters after one training step from the
/// shared start (training) or of the outputs (inference).
/// </summary>
public sealed class ModelWorkload<TLabel>(
    string name,
    string description,
    ModelRun run,
    int batch,
    Func<int, ISupervisedModel<TLabel>> graphModel,
    Func<nn.Module<Tensor, Tensor>> torchModel,
    TorchLoss loss,
    OptimizerSpec optimizer) : IWorkload where TLabel : unmanaged
{
    private ISupervisedModel<TLabel> _graph = null!;
    private nn.Module<Tensor, Tensor> _torch = null!;
    private optim.Optimizer? _torchOptimizer;
    private float[] _input = [], _output = [];
    private TLabel[] _labels = [];
    private Tensor? _torchInput, _torchLabels, _torchOutput;
    private double _difference;

    // The MNIST training set in batches (classifier training steps only): next batch to run on each side.
    private Tensor? _torchAllImages, _torchAllLabels;
    private Tensor[] _torchImageBatches = [], _torchLabelBatches = [];
    private float[] _mnistImages = [];
    private int[] _mnistLabels = [];
    private int _graphBatch, _torchBatch;

    private static readonly Lazy<Graph.Runtime.Data.Dataset> MnistTrain = new(() => Graph.Runtime.Data.Mnist.Load().Train);

    public string Name => name;
    public string Description => description;
    public double FlopsPerRun => 0;

    /// <summary>The Graph model (after <see cref="Setup"/>).</summary>
    public ISupervisedModel<TLabel> GraphModel => _graph;

    public void Setup()
    {
        _graph = graphModel(batch);
        _graph.Optimizer = optimizer.CreateGraph();
        _torch = torchModel();

        // The same data: MNIST-shaped pixels in [0, 1) and labels 0-9, or y = 2x + 1 + noise for regression.
        var random = new Random(1234);
        _input = new float[batch * _graph.InputSize];
        for (int i = 0; i < _input.Length; i++) _input[i] = (float)random.NextDouble();
        _labels = new TLabel[batch * _graph.LabelSize];
        if (typeof(TLabel) == typeof(int))
        {
            var labels = (int[])(object)_labels;
            for (int i = 0; i < labels.Length; i++) labels[i] = random.Next(10);
            _torchLabels = torch.tensor(labels.Select(l => (long)l).ToArray(), [batch]);
        }
        else
        {
            var targets = (float[])(object)_labels;
            for (int i = 0; i < targets.Length; i++) targets[i] = 2 * _input[i] + 1 + (float)(random.NextDouble() - 0.5) * 0.1f;
            _torchLabels = torch.tensor(targets, [batch, _graph.LabelSize]);
        }
        long[] inputShape = [batch, .. _graph.Inputs[0].Shape.Skip(1).Select(d => (long)d)];
        _torchInput = torch.tensor(_input, inputShape);
        _output = new float[batch * _graph.OutputSize];

        // Both sides keep the batch resident: torch in tensors made once, Graph in the model's own input buffers
        // (what the span overloads TrainStep(x, labels, batch) and Predict(x, batch, output) copy into first).
        _input.CopyTo(_graph.InputBuffer(_graph.Inputs[0].Name));
        if (_labels is int[] classes) classes.CopyTo(_graph.LabelBuffer(_graph.Inputs[1].Name));
        else ((float[])(object)_labels).CopyTo(_graph.InputBuffer(_graph.Inputs[1].Name));

        if (run == ModelRun.TrainStep && typeof(TLabel) == typeof(int) && _graph.InputSize == 28 * 28) UseMnistBatches(inputShape);

        CopyParametersToTorch();
        if (run == ModelRun.TrainStep)
        {
            _torch.train();
            _torchOptimizer = optimizer.CreateTorch(_torch.parameters());
            // One step each from the same start: the parameters must agree afterwards.
            RunGraph();
            RunTorch();
            _difference = ParameterDifference();
        }
        else
        {
            _torch.eval();
            RunGraph();
            RunTorch();
            _difference = Compare.MaxDifference(_output, _torchOutput!);
        }
    }

    /// <summary>Switches a classifier's training steps to consecutive batches of the MNIST training set (see the class).</summary>
    private void UseMnistBatches(long[] inputShape)
    {
        var mnist = MnistTrain.Value;
        int batches = mnist.Count / batch;
        _mnistImages = mnist.Features;
        _mnistLabels = mnist.Labels!;
        long[] allShape = [batches * (long)batch, .. inputShape.Skip(1)];
        _torchAllImages = torch.tensor(_mnistImages.AsSpan(0, batches * batch * _graph.InputSize).ToArray(), allShape);
        _torchAllLabels = torch.tensor(_mnistLabels.Take(batches * batch).Select(l => (long)l).ToArray(), [batches * (long)batch]);
        _torchImageBatches = new Tensor[batches];
        _torchLabelBatches = new Tensor[batches];
        for (int b = 0; b < batches; b++)
        {
            _torchImageBatches[b] = _torchAllImages.narrow(0, b * (long)batch, batch);
            _torchLabelBatches[b] = _torchAllLabels.narrow(0, b * (long)batch, batch);
        }
    }

    public void RunGraph()
    {
        if (run == ModelRun.Inference) _graph.Predict(batch, _output);
        else if (_torchImageBatches.Length == 0) _graph.TrainStep(batch);
        else
        {
            int b = _graphBatch;
            _graphBatch = (b + 1) % _torchImageBatches.Length;
            var labels = MemoryMarshal.Cast<int, TLabel>(_mnistLabels.AsSpan(b * batch, batch));
            _graph.TrainStep(_mnistImages.AsSpan(b * batch * _graph.InputSize, batch * _graph.InputSize), labels, batch);
        }
    }

    public void RunTorch()
    {
        if (run == ModelRun.TrainStep)
        {
            Tensor input = _torchInput!, labels = _torchLabels!;
            using var scope = torch.NewDisposeScope();
            if (_torchImageBatches.Length > 0)
            {
                // The next batch into the model's input tensors, as Graph copies it into its input buffers.
                input.copy_(_torchImageBatches[_torchBatch]);
                labels.copy_(_torchLabelBatches[_torchBatch]);
                _torchBatch = (_torchBatch + 1) % _torchImageBatches.Length;
            }
            _torchOptimizer!.zero_grad();
            using var output = _torch.forward(input);
            using var lossValue = loss == TorchLoss.CrossEntropy
                ? nn.functional.cross_entropy(output, labels)
                : nn.functional.mse_loss(output, labels);
            lossValue.backward();
            _torchOptimizer.step();
        }
        else
        {
            using var noGrad = torch.no_grad();
            _torchOutput?.Dispose();
            _torchOutput = _torch.forward(_torchInput!);
        }
    }

    public double MaxDifference() => _difference;

    private void CopyParametersToTorch()
    {
        var torchParameters = _torch.parameters().ToArray();
        if (torchParameters.Length != _graph.Parameters.Count)
            throw new InvalidOperationException($"{name}: torch has {torchParameters.Length} parameters, Graph {_graph.Parameters.Count}.");
        using var noGrad = torch.no_grad();
        for (int i = 0; i < torchParameters.Length; i++)
        {
            using var value = GraphParameterInTorchLayout(i);
            torchParameters[i].copy_(value);
        }
    }

    /// <summary>Graph's parameter <paramref name="index"/> as a tensor in torch's layout.</summary>
    private Tensor GraphParameterInTorchLayout(int index)
    {
        var info = _graph.Parameters[index];
        float[] values = _graph.Parameter(info.Name).ToArray();
        long[] shape = info.Shape.Select(d => (long)d).ToArray();
        var tensor = torch.tensor(values, shape);
        if (shape.Length != 2) return tensor;
        using (tensor) return tensor.t().contiguous();   // dense weight [in, out] → [out, in]
    }

    private double ParameterDifference()
    {
        var torchParameters = _torch.parameters().ToArray();
        double max = 0;
        for (int i = 0; i < torchParameters.Length; i++)
        {
            using var graphValue = GraphParameterInTorchLayout(i);
            using var difference = (graphValue - torchParameters[i].detach()).abs().max();
            max = Math.Max(max, difference.item<float>());
        }
        return max;
    }

    public void Dispose()
    {
        _torchOptimizer?.Dispose();
        _torch?.Dispose();
        _torchInput?.Dispose();
        _torchLabels?.Dispose();
        _torchOutput?.Dispose();
        foreach (var t in _torchImageBatches) t.Dispose();
        foreach (var t in _torchLabelBatches) t.Dispose();
        _torchAllImages?.Dispose();
        _torchAllLabels?.Dispose();
    }
}

/// <summary>The loss torch computes in a training step (Graph's is part of the model definition).</summary>
public enum TorchLoss { CrossEntropy, MeanSquaredError }

/// <summary>One optimizer configuration, created identically on both sides.</summary>
public sealed record OptimizerSpec(string Kind, double LearningRate, double Momentum = 0)
{
    public static OptimizerSpec Sgd(double lr, double momentum = 0) => new("sgd", lr, momentum);
    public static OptimizerSpec Adam(double lr) => new("adam", lr);

    public Graph.Runtime.Optimizers.Optimizer CreateGraph() => Kind == "adam"
        ? new Graph.Runtime.Optimizers.Adam((float)LearningRate)
        : new Graph.Runtime.Optimizers.Sgd((float)LearningRate, (float)Momentum);

    public optim.Optimizer CreateTorch(System.Collections.Generic.IEnumerable<Parameter> parameters) => Kind == "adam"
        ? optim.Adam(parameters, LearningRate)
        : optim.SGD(parameters, LearningRate, momentum: Momentum);

    public override string ToString() => Kind == "adam" ? $"Adam lr {LearningRate:G}" :
        Momentum != 0 ? $"SGD lr {LearningRate:G} momentum {Momentum:G}" : $"SGD lr {LearningRate:G}";
}
