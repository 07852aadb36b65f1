using System;
using System.Collections.Generic;

namespace Graph.Runtime.Training;

/// <summary>Whether a smaller or a larger monitored value is better.</summary>
public enum MonitorMode
{
    /// <summary>Lower is better (e.g. validation loss).</summary>
    Min,
    /// <summary>Higher is better (e.g. validation accuracy).</summary>
    Max,
}

/// <summary>
/// Early stopping on a monitored validation metric, with the semantics of Keras' EarlyStopping
/// (and PyTorch Lightning's): an epoch improves when the value beats the best so far by more than
/// <see cref="MinDelta"/> (value &lt; best − minDelta in Min mode); training should stop once
/// <see cref="Patience"/> consecutive epochs have not improved. With weights given to
/// <see cref="Observe"/>, a copy of the best epoch's weights is kept (buffers allocated on first use)
/// and <see cref="RestoreBestWeights"/> copies it back. A NaN value never counts as an improvement.
/// </summary>
public sealed class EarlyStopping
{
    private float[][]? _bestWeights;

    /// <summary>Creates the monitor.</summary>
    /// <param name="patience">Epochs without improvement tolerated before stopping (≥ 1).</param>
    /// <param name="minDelta">Smallest change that counts as an improvement (≥ 0).</param>
    /// <param name="mode">Min for losses, Max for accuracies.</param>
    public EarlyStopping(int patience, double minDelta = 0, MonitorMode mode = MonitorMode.Min)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(patience);
        if (!(minDelta >= 0)) throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, "minDelta must be >= 0.");
        Patience = patience;
        MinDelta = minDelta;
        Mode = mode;
        BestValue = mode == MonitorMode.Min ? double.PositiveInfinity : double.NegativeInfinity;
    }

    /// <summary>Epochs without improvement tolerated.</summary>
    public int Patience { get; }

    /// <summary>Minimum improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Direction of improvement.</summary>
    public MonitorMode Mode { get; }

    /// <summary>Best value seen (±∞ before the first observation).</summary>
    public double BestValue { get; private set; }

    /// <summary>Epoch number of the best value (−1 before the first improvement).</summary>
    public int BestEpoch { get; private set; } = -1;

    /// <summary>Consecutive observations without improvement.</summary>
    public int EpochsWithoutImprovement { get; private set; }

    /// <summary>Whether the last observation improved on the best value.</summary>
    public bool LastImproved { get; private set; }

    /// <summary>True once <see cref="Patience"/> epochs in a row have not improved.</summary>
    public bool ShouldStop => EpochsWithoutImprovement >= Patience;

    /// <summary>Whether best weights have been captured.</summary>
    public bool HasBestWeights => _bestWeights is not null && BestEpoch >= 0;

    /// <summary>
    /// Records the monitored value of <paramref name="epoch"/>; on improvement copies
    /// <paramref name="weights"/> (if given). Returns <see cref="ShouldStop"/>.
    /// </summary>
    public bool Observe(int epoch, double value, IReadOnlyList<Memory<float>>? weights = null)
    {
        bool improved = Mode == MonitorMode.Min ? value < BestValue - MinDelta : value > BestValue + MinDelta;
        LastImproved = improved;
        if (!improved)
        {
            EpochsWithoutImprovement++;
            return ShouldStop;
        }
        BestValue = value;
        BestEpoch = epoch;
        EpochsWithoutImprovement = 0;
        if (weights is not null)
        {
            if (_bestWeights is null)
            {
                _bestWeights = new float[weights.Count][];
                for (int i = 0; i < weights.Count; i++) _bestWeights[i] = new float[weights[i].Length];
            }
            CheckShapes(weights);
            for (int i = 0; i < weights.Count; i++) weights[i].Span.CopyTo(_bestWeights[i]);
        }
        return false;
    }

    /// <summary>Copies the best epoch's weights back into <paramref name="weights"/>.</summary>
    /// <exception cref="InvalidOperationException">No weights were captured.</exception>
    public void RestoreBestWeights(IReadOnlyList<Memory<float>> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (_bestWeights is null || BestEpoch < 0)
            throw new InvalidOperationException("No best weights were captured: pass the weights to Observe.");
        CheckShapes(weights);
        for (int i = 0; i < weights.Count; i++) _bestWeights[i].CopyTo(weights[i].Span);
    }

    private void CheckShapes(IReadOnlyList<Memory<float>> weights)
    {
        if (weights.Count != _bestWeights!.Length)
            throw new ArgumentException($"Expected {_bestWeights.Length} weight tensors, got {weights.Count}.", nameof(weights));
        for (int i = 0; i < weights.Count; i++)
        {
            if (weights[i].Length != _bestWeights[i].Length)
                throw new ArgumentException($"Weight tensor {i} has {weights[i].Length} values; expected {_bestWeights[i].Length}.", nameof(weights));
        }
    }
}
