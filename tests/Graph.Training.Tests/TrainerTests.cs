using System;
using System.IO;
using System.Linq;
using System.Threading;
using Graph.Runtime.Data;
using Graph.Runtime.Initialization;
using Graph.Runtime.Models;
using Graph.Runtime.Optimizers;
using Graph.Training;

namespace Graph.Training.Tests;

/// <summary>
/// A hand-written softmax regression (closed-form gradient), so the training loop is tested
/// independently of the compiler: W [features, classes], b [classes].
/// </summary>
internal sealed class HandWrittenSoftmaxRegression : ISupervisedModel<int>
{
    private readonly float[] _w, _b, _gw, _gb, _logits;
    private Optimizer _optimizer = new Sgd(0.1f);

    public HandWrittenSoftmaxRegression(int features, int classes, int maxBatch)
    {
        InputSize = features;
        OutputSize = classes;
        MaxBatch = maxBatch;
        _w = new float[features * classes];
        _b = new float[classes];
        _gw = new float[_w.Length];
        _gb = new float[_b.Length];
        _logits = new float[maxBatch * classes];
        Parameters = new[] { new TensorInfo("w", new[] { features, classes }), new TensorInfo("b", new[] { classes }) };
        _optimizer.Bind(new[] { _w.Length, _b.Length });
    }

    public string Name => "softmax_regression";
    public int MaxBatch { get; }
    public bool IsTraining { get; set; }
    public System.Collections.Generic.IReadOnlyList<TensorInfo> Parameters { get; }
    public System.Collections.Generic.IReadOnlyList<TensorInfo> States { get; } = Array.Empty<TensorInfo>();
    public int InputSize { get; }
    public int LabelSize => 1;
    public int OutputSize { get; }
    public Optimizer Optimizer
    {
        get => _optimizer;
        set { _optimizer = value; _optimizer.Bind(new[] { _w.Length, _b.Length }); }
    }

    public Memory<float> Parameter(string name) => name == "w" ? _w : _b;
    public Memory<float> Gradient(string name) => name == "w" ? _gw : _gb;
    public Memory<float> State(string name) => throw new ArgumentException(name);

    public void Predict(ReadOnlySpan<float> input, int batch, Span<float> output)
    {
        int k = OutputSize;
        for (int i = 0; i < batch; i++)
            for (int c = 0; c < k; c++)
            {
                float sum = _b[c];
                for (int f = 0; f < InputSize; f++) sum += input[i * InputSize + f] * _w[f * k + c];
                output[i * k + c] = sum;
            }
    }

    public float Loss(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, int batch) => Forward(input, labels, batch, backward: false);
    public float ComputeGradients(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, int batch) => Forward(input, labels, batch, backward: true);

    public float TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, int batch)
    {
        float loss = ComputeGradients(input, labels, batch);
        _optimizer.BeginStep();
        _optimizer.Update(0, _w, _gw);
        _optimizer.Update(1, _b, _gb);
        return loss;
    }

    private float Forward(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, int batch, bool backward)
    {
        int k = OutputSize;
        Predict(input, batch, _logits);
        if (backward) { Array.Clear(_gw); Array.Clear(_gb); }
        double loss = 0;
        for (int i = 0; i < batch; i++)
        {
            var row = _logits.AsSpan(i * k, k);
            float max = row.ToArray().Max();
            double sum = 0;
            for (int c = 0; c < k; c++) sum += Math.Exp(row[c] - max);
            loss += Math.Log(sum) + max - row[labels[i]];
            if (!backward) continue;
            for (int c = 0; c < k; c++)
            {
                float g = (float)((Math.Exp(row[c] - max) / sum - (c == labels[i] ? 1 : 0)) / batch);
                _gb[c] += g;
                for (int f = 0; f < InputSize; f++) _gw[f * k + c] += g * input[i * InputSize + f];
            }
        }
        return (float)(loss / batch);
    }
}

public class TrainerTests
{
    private static Dataset Blobs(int count, int seed)
    {
        var rng = new Random(seed);
        var features = new float[count * 2];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = i % 3;
            features[2 * i] = (float)(labels[i] * 2.0 - 2 + rng.NextDouble() * 0.8);
            features[2 * i + 1] = (float)((labels[i] == 1 ? 1.5 : -1.0) + rng.NextDouble() * 0.8);
        }
        return new Dataset(features, new[] { 2 }, labels, 3);
    }

    [Fact]
    public void Fit_learns_separable_blobs_and_records_history()
    {
        var model = new HandWrittenSoftmaxRegression(2, 3, 32);
        var result = Trainer.Fit(model, Blobs(300, 1), Blobs(90, 2), new TrainingOptions { Epochs = 8, BatchSize = 32, ShowProgress = false });
        Assert.Equal(8, result.History.Count);
        Assert.True(result.History.Last.ValidationAccuracy > 0.95, $"validation accuracy {result.History.Last.ValidationAccuracy}");
        Assert.True(result.History.Last.TrainLoss < result.History.Epochs[0].TrainLoss);
        var evaluation = Trainer.Evaluate(model, Blobs(90, 3));
        Assert.Equal(90, evaluation.Confusion!.Total);
        Assert.Equal(evaluation.Accuracy, evaluation.Confusion.Accuracy);
    }

    [Fact]
    public void Checkpoint_resume_continues_from_the_saved_epoch_with_the_same_weights()
    {
        string directory = Path.Combine(Path.GetTempPath(), "graph-trainer-" + Guid.NewGuid().ToString("N"));
        string path = Path.Combine(directory, "model.safetensors");
        try
        {
            var first = new HandWrittenSoftmaxRegression(2, 3, 32);
            Trainer.Fit(first, Blobs(120, 1), null, new TrainingOptions { Epochs = 2, ShowProgress = false, CheckpointPath = path });
            var resumed = new HandWrittenSoftmaxRegression(2, 3, 32);
            var result = Trainer.Fit(resumed, Blobs(120, 1), null, new TrainingOptions { Epochs = 2, ShowProgress = false, CheckpointPath = path, Resume = true });
            Assert.Equal(0, result.History.Count); // already at epoch 2 of 2
            Assert.Equal(first.Parameter("w").ToArray(), resumed.Parameter("w").ToArray());
            Assert.Equal(first.Optimizer.StepCount, resumed.Optimizer.StepCount);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Cancellation_stops_after_the_current_batch()
    {
        var model = new HandWrittenSoftmaxRegression(2, 3, 8);
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        var result = Trainer.Fit(model, Blobs(64, 1), null, new TrainingOptions { Epochs = 3, BatchSize = 8, ShowProgress = false }, cancel.Token);
        Assert.True(result.Interrupted);
        Assert.Equal(0, model.Optimizer.StepCount);
    }

    [Fact]
    public void Early_stopping_restores_the_best_weights()
    {
        var model = new HandWrittenSoftmaxRegression(2, 3, 32);
        // A learning rate this high makes validation loss bounce, so patience 1 triggers.
        model.Optimizer = new Sgd(50f);
        var result = Trainer.Fit(model, Blobs(300, 1), Blobs(90, 2), new TrainingOptions { Epochs = 30, ShowProgress = false, EarlyStoppingPatience = 1 });
        Assert.NotNull(result.BestEpoch);
        double best = result.History.Epochs.Min(e => e.ValidationLoss);
        Assert.Equal(best, Trainer.Evaluate(model, Blobs(90, 2)).Loss, 4);
    }

    [Fact]
    public void Plots_are_written_as_png()
    {
        string directory = Path.Combine(Path.GetTempPath(), "graph-plots-" + Guid.NewGuid().ToString("N"));
        try
        {
            var model = new HandWrittenSoftmaxRegression(2, 3, 32);
            Trainer.Fit(model, Blobs(120, 1), Blobs(30, 2), new TrainingOptions { Epochs = 2, ShowProgress = false, PlotDirectory = directory });
            Plots.ConfusionMatrix(Trainer.Evaluate(model, Blobs(30, 2)).Confusion!, Path.Combine(directory, "cm.png"), "blobs");
            foreach (var file in new[] { "softmax_regression-loss.png", "softmax_regression-accuracy.png", "cm.png" })
            {
                var bytes = File.ReadAllBytes(Path.Combine(directory, file));
                Assert.True(bytes.Length > 1000 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', file);
            }
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Mismatched_data_is_rejected_with_a_clear_message()
    {
        var model = new HandWrittenSoftmaxRegression(3, 3, 8);
        var e = Assert.Throws<ArgumentException>(() => Trainer.Fit(model, Blobs(10, 1), null, new TrainingOptions { ShowProgress = false }));
        Assert.Contains("takes 3 features per example, but the data set has 2", e.Message);
    }
}
