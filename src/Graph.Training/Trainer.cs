using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using Graph.Runtime.Checkpoints;
using Graph.Runtime.Data;
using Graph.Runtime.Evaluation;
using Graph.Runtime.Initialization;
using Graph.Runtime.Models;
using Graph.Runtime.Training;
using Spectre.Console;

namespace Graph.Training;

/// <summary>Loss, accuracy and (for classifiers) the confusion matrix of a model on a data set.</summary>
public sealed record Evaluation(double Loss, double Accuracy, ConfusionMatrix? Confusion);

/// <summary>What <see cref="Trainer.Fit{TLabel}"/> did.</summary>
public sealed record TrainingResult(TrainingHistory History, bool Interrupted, int? BestEpoch, TimeSpan Elapsed);

/// <summary>
/// The training loop: mini-batches with shuffling (and augmentation), a learning-rate schedule, a progress
/// bar with loss and throughput, a summary line per epoch, validation, early stopping with best-weight
/// restore, atomic checkpoints, resuming, PNG curves, and Ctrl+C that stops after the current batch.
/// </summary>
public static class Trainer
{
    /// <summary>Trains <paramref name="model"/> on <paramref name="train"/>, validating on <paramref name="validation"/> after each epoch.</summary>
    public static TrainingResult Fit<TLabel>(ISupervisedModel<TLabel> model, Dataset train, Dataset? validation, TrainingOptions options,
        CancellationToken cancellation = default) where TLabel : unmanaged
    {
        CheckCompatible(model, train);
        if (validation is not null) CheckCompatible(model, validation);
        int batchSize = Math.Min(options.BatchSize, model.MaxBatch);
        var rng = new Rng(options.Seed);
        var batches = new MiniBatches(train, batchSize, shuffle: true, rng);
        var features = new float[batchSize * model.InputSize];
        var augmented = options.Augmentation is null ? null : new float[features.Length];
        var labels = new TLabel[batchSize * model.LabelSize];
        var history = new TrainingHistory();
        var earlyStopping = options.EarlyStoppingPatience is int patience ? new EarlyStopping(patience) : null;
        var weights = model.Parameters.Select(p => model.Parameter(p.Name)).Concat(model.States.Select(s => model.State(s.Name))).ToList();

        int firstEpoch = 1;
        if (options.Resume && options.CheckpointPath is string resumePath && File.Exists(resumePath))
        {
            var metadata = Checkpoint.Load(resumePath, CheckpointTensors(model), model.Optimizer);
            firstEpoch = int.Parse(metadata["epoch"], CultureInfo.InvariantCulture) + 1;
            Console.WriteLine($"resumed from {resumePath} after epoch {firstEpoch - 1}");
        }

        bool stopRequested = false;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // Finish the current batch, keep the last good checkpoint.
            e.Cancel = true;
            stopRequested = true;
        };
        Console.CancelKeyPress += onCancel;
        var clock = Stopwatch.StartNew();
        bool interrupted = false;
        long step = (long)(firstEpoch - 1) * batches.BatchCount;
        bool live = options.ShowProgress && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        try
        {
            for (int epoch = firstEpoch; epoch <= options.Epochs && !interrupted; epoch++)
            {
                batches.StartEpoch();
                int batchCount = Math.Min(batches.BatchCount, options.MaxBatchesPerEpoch ?? int.MaxValue);
                var trainLoss = new RunningMean();
                long correct = 0, seen = 0;
                var output = new float[batchSize * model.OutputSize];
                var epochClock = Stopwatch.StartNew();

                void RunBatches(Action<int, double, double>? report)
                {
                    for (int b = 0; b < batchCount; b++)
                    {
                        if (stopRequested || cancellation.IsCancellationRequested) { interrupted = true; break; }
                        int n = CopyBatch(batches, b, features, labels);
                        var input = features.AsSpan(0, n * model.InputSize);
                        if (options.Augmentation is ImageAugmentation augmentation)
                        {
                            augmentation.ApplyBatch(input, augmented, n, rng);
                            input = augmented.AsSpan(0, input.Length);
                        }
                        if (options.Schedule is not null) model.Optimizer.LearningRate = options.Schedule.LearningRate((int)step);
                        float loss = model.TrainStep(input, labels.AsSpan(0, n * model.LabelSize), n);
                        step++;
                        if (!float.IsFinite(loss)) throw new InvalidOperationException($"The loss became {loss} at epoch {epoch}, batch {b + 1}; lower the learning rate.");
                        trainLoss.Add(loss, n);
                        if (typeof(TLabel) == typeof(int) && train.IsClassification)
                        {
                            // Accuracy of the step's own forward pass (training mode, before the update), as
                            // Keras and the usual PyTorch loop report it: no second forward pass.
                            model.TrainingOutput(n, output.AsSpan(0, n * model.OutputSize));
                            correct += Metrics.CountCorrect(output.AsSpan(0, n * model.OutputSize), model.OutputSize, MemoryMarshal.Cast<TLabel, int>(labels.AsSpan(0, n)));
                        }
                        seen += n;
                        report?.Invoke(b + 1, trainLoss.Mean, seen / epochClock.Elapsed.TotalSeconds);
                    }
                }

                if (live)
                {
                    AnsiConsole.Progress()
                        .AutoClear(true)
                        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                        .Start(ctx =>
                        {
                            var task = ctx.AddTask($"epoch {epoch}/{options.Epochs}", maxValue: batchCount);
                            RunBatches((done, loss, rate) =>
                            {
                                task.Value = done;
                                task.Description = $"epoch {epoch}/{options.Epochs}  loss {loss:F4}  {rate:N0} ex/s";
                            });
                        });
                }
                else
                {
                    RunBatches(null);
                }
                if (seen == 0) break;

                double trainAccuracy = seen > 0 && train.IsClassification ? (double)correct / seen : double.NaN;
                var val = validation is null ? null : Evaluate(model, validation, batchSize);
                var metrics = new EpochMetrics(epoch, trainLoss.Mean, trainAccuracy, val?.Loss ?? double.NaN, val?.Accuracy ?? double.NaN,
                    model.Optimizer.LearningRate, epochClock.Elapsed);
                history.Add(metrics);
                Console.WriteLine(SummaryLine(metrics, options.Epochs, seen / epochClock.Elapsed.TotalSeconds));

                if (options.CheckpointPath is string path) SaveCheckpoint(model, path, epoch);
                if (earlyStopping is not null && val is not null)
                {
                    earlyStopping.Observe(epoch, val.Loss, weights);
                    if (earlyStopping.ShouldStop)
                    {
                        Console.WriteLine($"early stopping: no lower validation loss for {earlyStopping.Patience} epochs; restoring epoch {earlyStopping.BestEpoch}");
                        break;
                    }
                }
            }
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            model.IsTraining = false;   // Fit leaves the model in evaluation mode (dropout off, running statistics)
        }
        if (earlyStopping is { HasBestWeights: true }) earlyStopping.RestoreBestWeights(weights);
        if (interrupted) Console.WriteLine("interrupted: stopped after the current batch" + (options.CheckpointPath is null ? "" : $"; last checkpoint kept at {options.CheckpointPath}"));
        if (options.PlotDirectory is string plots && history.Count > 0) Plots.TrainingCurves(history, Path.Combine(plots, model.Name), model.Name);
        return new TrainingResult(history, interrupted, earlyStopping?.BestEpoch, clock.Elapsed);
    }

    /// <summary>Loss and accuracy in evaluation mode (restores the previous mode afterwards).</summary>
    public static Evaluation Evaluate<TLabel>(ISupervisedModel<TLabel> model, Dataset data, int batchSize = 256) where TLabel : unmanaged
    {
        CheckCompatible(model, data);
        batchSize = Math.Min(batchSize, model.MaxBatch);
        bool wasTraining = model.IsTraining;
        model.IsTraining = false;
        var batches = new MiniBatches(data, batchSize, shuffle: false);
        var features = new float[batchSize * model.InputSize];
        var labels = new TLabel[batchSize * model.LabelSize];
        var output = new float[batchSize * model.OutputSize];
        var predictions = new int[batchSize];
        var confusion = data.IsClassification ? new ConfusionMatrix(model.OutputSize) : null;
        var loss = new RunningMean();
        try
        {
            for (int b = 0; b < batches.BatchCount; b++)
            {
                int n = CopyBatch(batches, b, features, labels);
                var input = features.AsSpan(0, n * model.InputSize);
                loss.Add(model.Loss(input, labels.AsSpan(0, n * model.LabelSize), n), n);
                if (confusion is not null)
                {
                    model.Predict(input, n, output.AsSpan(0, n * model.OutputSize));
                    Metrics.ArgMaxRows(output.AsSpan(0, n * model.OutputSize), model.OutputSize, predictions.AsSpan(0, n));
                    confusion.Add(MemoryMarshal.Cast<TLabel, int>(labels.AsSpan(0, n)), predictions.AsSpan(0, n));
                }
            }
        }
        finally
        {
            model.IsTraining = wasTraining;
        }
        return new Evaluation(loss.Mean, confusion?.Accuracy ?? double.NaN, confusion);
    }

    /// <summary>Parameters, then state, as checkpoint tensors (the optimizer's indices follow the parameter order).</summary>
    public static IReadOnlyList<NamedTensor> CheckpointTensors(ICompiledModel model) =>
        model.Parameters.Select(p => new NamedTensor(p.Name, p.Shape.ToArray(), model.Parameter(p.Name)))
            .Concat(model.States.Select(s => new NamedTensor(s.Name, s.Shape.ToArray(), model.State(s.Name))))
            .ToList();

    /// <summary>Writes a checkpoint of the model and its optimizer atomically.</summary>
    public static void SaveCheckpoint(ICompiledModel model, string path, int epoch)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        Checkpoint.Save(path, CheckpointTensors(model), model.Optimizer,
            new Dictionary<string, string> { ["epoch"] = epoch.ToString(CultureInfo.InvariantCulture), ["model"] = model.Name });
    }

    /// <summary>The line printed after each epoch.</summary>
    public static string SummaryLine(EpochMetrics m, int epochs, double examplesPerSecond)
    {
        string Num(double v, string format) => double.IsNaN(v) ? "-" : v.ToString(format, CultureInfo.InvariantCulture);
        return $"epoch {m.Epoch,3}/{epochs}  train loss {Num(m.TrainLoss, "F4")}  acc {Num(m.TrainAccuracy, "F4")}  " +
               $"val loss {Num(m.ValidationLoss, "F4")}  acc {Num(m.ValidationAccuracy, "F4")}  lr {m.LearningRate.ToString("G3", CultureInfo.InvariantCulture)}  " +
               $"{examplesPerSecond.ToString("N0", CultureInfo.InvariantCulture)} ex/s  {m.Duration.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s";
    }

    private static int CopyBatch<TLabel>(MiniBatches batches, int index, float[] features, TLabel[] labels) where TLabel : unmanaged
    {
        if (typeof(TLabel) == typeof(int)) return batches.CopyBatch(index, features, MemoryMarshal.Cast<TLabel, int>(labels.AsSpan()));
        return batches.CopyBatch(index, features, MemoryMarshal.Cast<TLabel, float>(labels.AsSpan()));
    }

    private static void CheckCompatible<TLabel>(ISupervisedModel<TLabel> model, Dataset data) where TLabel : unmanaged
    {
        if (data.FeatureCount != model.InputSize)
            throw new ArgumentException($"Model '{model.Name}' takes {model.InputSize} features per example, but the data set has {data.FeatureCount}.");
        if (typeof(TLabel) == typeof(int) && !data.IsClassification)
            throw new ArgumentException($"Model '{model.Name}' takes class labels, but the data set has regression targets.");
        if (typeof(TLabel) == typeof(float) && data.IsClassification)
            throw new ArgumentException($"Model '{model.Name}' takes float targets, but the data set has class labels; one-hot encode them.");
    }
}
