using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace Graph.Runtime.Training;

/// <summary>Metrics of one epoch. Validation values are NaN when there is no validation set.</summary>
/// <param name="Epoch">Epoch number (as the caller counts, usually from 1).</param>
/// <param name="TrainLoss">Mean training loss over the epoch's samples.</param>
/// <param name="TrainAccuracy">Training accuracy over the epoch: each batch scored on its own training forward pass (training mode, before its update), NaN for regression.</param>
/// <param name="ValidationLoss">Validation loss.</param>
/// <param name="ValidationAccuracy">Validation accuracy.</param>
/// <param name="LearningRate">Learning rate at the end of the epoch.</param>
/// <param name="Duration">Wall-clock time of the epoch.</param>
public readonly record struct EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double ValidationLoss,
    double ValidationAccuracy, float LearningRate, TimeSpan Duration);

/// <summary>Per-epoch training curve (train/validation loss and accuracy), exportable as CSV.</summary>
public sealed class TrainingHistory
{
    private readonly List<EpochMetrics> _epochs = new();

    /// <summary>The recorded epochs, in order.</summary>
    public IReadOnlyList<EpochMetrics> Epochs => _epochs;

    /// <summary>Number of recorded epochs.</summary>
    public int Count => _epochs.Count;

    /// <summary>The last recorded epoch.</summary>
    /// <exception cref="InvalidOperationException">Nothing recorded yet.</exception>
    public EpochMetrics Last => _epochs.Count > 0 ? _epochs[^1] : throw new InvalidOperationException("No epochs recorded.");

    /// <summary>Appends an epoch.</summary>
    public void Add(EpochMetrics metrics) => _epochs.Add(metrics);

    /// <summary>The epoch with the lowest validation loss (ignoring NaN), or null if there is none.</summary>
    public EpochMetrics? BestByValidationLoss()
    {
        EpochMetrics? best = null;
        foreach (var e in _epochs)
        {
            if (!double.IsNaN(e.ValidationLoss) && (best is null || e.ValidationLoss < best.Value.ValidationLoss)) best = e;
        }
        return best;
    }

    /// <summary>CSV with header epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds (invariant culture, round-trip precision).</summary>
    public string ToCsv()
    {
        var text = new StringBuilder("epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds\n");
        foreach (var e in _epochs)
        {
            text.Append(e.Epoch.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append(e.TrainLoss.ToString("R", CultureInfo.InvariantCulture)).Append(',')
                .Append(e.TrainAccuracy.ToString("R", CultureInfo.InvariantCulture)).Append(',')
                .Append(e.ValidationLoss.ToString("R", CultureInfo.InvariantCulture)).Append(',')
                .Append(e.ValidationAccuracy.ToString("R", CultureInfo.InvariantCulture)).Append(',')
                .Append(e.LearningRate.ToString("R", CultureInfo.InvariantCulture)).Append(',')
                .Append(e.Duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>Writes <see cref="ToCsv"/> to a file.</summary>
    public void WriteCsv(string path) => File.WriteAllText(path, ToCsv());
}

/// <summary>
/// Sample-weighted running mean for per-epoch loss and accuracy: add each batch's mean with its
/// batch size, so a smaller last batch weighs less (the mean over samples, not over batches).
/// Accumulates in double; allocation-free.
/// </summary>
public struct RunningMean
{
    private double _sum;

    /// <summary>Samples accumulated.</summary>
    public long Count { get; private set; }

    /// <summary>Mean so far (NaN when empty).</summary>
    public readonly double Mean => Count == 0 ? double.NaN : _sum / Count;

    /// <summary>Adds a batch whose mean value is <paramref name="batchMean"/> over <paramref name="batchSize"/> samples.</summary>
    public void Add(double batchMean, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batchSize);
        _sum += batchMean * batchSize;
        Count += batchSize;
    }

    /// <summary>Clears the accumulator.</summary>
    public void Reset()
    {
        _sum = 0;
        Count = 0;
    }
}
