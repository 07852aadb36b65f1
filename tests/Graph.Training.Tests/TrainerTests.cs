using System;
using System.IO;
using System.Linq;
using System.Threading;
using Graph.Runtime.Data;
using Graph.Runtime.Initialization;
using Graph.Runtime.Models;
using Graph.Runtime.Optimizers;
using Graph.Training;
using Graph.Builder;

namespace Graph.Training.Tests;

/// <summary>Softmax regression 2 → 3, compiled by the source generator like any user model.</summary>
[Model]
public partial class BlobClassifier
{
    static void Define(ModelBuilder m)
    {
        var logits = m.Input("x", 2).Dense(3, "fc");
        m.Output(logits);
        m.Loss(logits.SoftmaxCrossEntropy(m.Labels("y", classes: 3)));
    }
}

public class TrainerTests
{
    private static BlobClassifier NewModel(int maxBatch) => new(maxBatch, seed: 1) { Optimizer = new Sgd(0.1f) };

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
        var model = NewModel(32);
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
            var first = NewModel(32);
            Trainer.Fit(first, Blobs(120, 1), null, new TrainingOptions { Epochs = 2, ShowProgress = false, CheckpointPath = path });
            var resumed = NewModel(32);
            var result = Trainer.Fit(resumed, Blobs(120, 1), null, new TrainingOptions { Epochs = 2, ShowProgress = false, CheckpointPath = path, Resume = true });
            Assert.Equal(0, result.History.Count); // already at epoch 2 of 2
            Assert.Equal(first.Parameter("fc.weight").ToArray(), resumed.Parameter("fc.weight").ToArray());
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
        var model = NewModel(8);
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        var result = Trainer.Fit(model, Blobs(64, 1), null, new TrainingOptions { Epochs = 3, BatchSize = 8, ShowProgress = false }, cancel.Token);
        Assert.True(result.Interrupted);
        Assert.Equal(0, model.Optimizer.StepCount);
    }

    [Fact]
    public void Early_stopping_restores_the_best_weights()
    {
        var model = NewModel(32);
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
            var model = NewModel(32);
            Trainer.Fit(model, Blobs(120, 1), Blobs(30, 2), new TrainingOptions { Epochs = 2, ShowProgress = false, PlotDirectory = directory });
            Plots.ConfusionMatrix(Trainer.Evaluate(model, Blobs(30, 2)).Confusion!, Path.Combine(directory, "cm.png"), "blobs");
            foreach (var file in new[] { "BlobClassifier-loss.png", "BlobClassifier-accuracy.png", "cm.png" })
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
        var model = NewModel(8);
        var wide = new Dataset(new float[30], new[] { 3 }, new int[10], 3);
        var e = Assert.Throws<ArgumentException>(() => Trainer.Fit(model, wide, null, new TrainingOptions { ShowProgress = false }));
        Assert.Contains("takes 2 features per example, but the data set has 3", e.Message);
    }
}
