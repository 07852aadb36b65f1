using System;
using Graph.Runtime.Initialization;

namespace Graph.Runtime.Data;

/// <summary>
/// Mini-batch iteration over a <see cref="Dataset"/> (like a PyTorch DataLoader with
/// drop_last=False by default): batches copy samples into caller-provided buffers, so iterating
/// allocates nothing. With shuffling, each <see cref="StartEpoch"/> draws a fresh permutation from
/// the seeded generator, so epoch k's order is reproducible.
/// </summary>
/// <example>
/// <code>
/// var batches = new MiniBatches(train, 64, shuffle: true, new Rng(1));
/// var x = new float[64 * train.FeatureCount]; var y = new int[64];
/// batches.StartEpoch();
/// for (int b = 0; b &lt; batches.BatchCount; b++) { int n = batches.CopyBatch(b, x, y); /* use first n rows */ }
/// </code>
/// </example>
public sealed class MiniBatches
{
    private readonly Dataset _dataset;
    private readonly int[] _order;
    private readonly Rng? _rng;

    /// <summary>Creates the iterator; <paramref name="rng"/> is required when <paramref name="shuffle"/> is true.</summary>
    public MiniBatches(Dataset dataset, int batchSize, bool shuffle, Rng? rng = null, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        if (shuffle && rng is null) throw new ArgumentNullException(nameof(rng), "Shuffling needs a seeded Rng.");
        _dataset = dataset;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        _rng = rng;
        _order = new int[dataset.Count];
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        BatchCount = dropLast ? dataset.Count / batchSize : (dataset.Count + batchSize - 1) / batchSize;
    }

    /// <summary>Largest batch size (all batches but possibly the last).</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch reshuffles.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether a last partial batch is dropped.</summary>
    public bool DropLast { get; }

    /// <summary>Batches per epoch: ⌈N/B⌉, or ⌊N/B⌋ with <see cref="DropLast"/>.</summary>
    public int BatchCount { get; }

    /// <summary>The sample order of the current epoch.</summary>
    public ReadOnlySpan<int> Order => _order;

    /// <summary>Starts an epoch: with shuffling, a new permutation of the samples (no allocation).</summary>
    public void StartEpoch()
    {
        if (!Shuffle) return;
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        Shuffling.FisherYates<int>(_order, _rng!);
    }

    /// <summary>Number of samples in batch <paramref name="batchIndex"/>.</summary>
    public int SizeOf(int batchIndex)
    {
        if ((uint)batchIndex >= (uint)BatchCount) throw new ArgumentOutOfRangeException(nameof(batchIndex), batchIndex, $"There are {BatchCount} batches.");
        return Math.Min(BatchSize, _dataset.Count - batchIndex * BatchSize);
    }

    /// <summary>Copies the features of a batch (n×D) into <paramref name="features"/>; returns n. Rows past n are left as they were.</summary>
    public int CopyFeatures(int batchIndex, Span<float> features)
    {
        int n = SizeOf(batchIndex);
        int d = _dataset.FeatureCount;
        if (features.Length < n * d)
            throw new ArgumentException($"Batch {batchIndex} needs {n * d} feature floats; the buffer has {features.Length}.", nameof(features));
        int start = batchIndex * BatchSize;
        float[] source = _dataset.Features;
        for (int k = 0; k < n; k++)
            source.AsSpan(_order[start + k] * d, d).CopyTo(features.Slice(k * d, d));
        return n;
    }

    /// <summary>Copies features and class labels of a batch; returns its size n.</summary>
    public int CopyBatch(int batchIndex, Span<float> features, Span<int> labels)
    {
        int[] source = _dataset.Labels ?? throw new InvalidOperationException("The data set has no class labels (it is a regression data set).");
        int n = CopyFeatures(batchIndex, features);
        if (labels.Length < n) throw new ArgumentException($"Batch {batchIndex} has {n} labels; the buffer has room for {labels.Length}.", nameof(labels));
        int start = batchIndex * BatchSize;
        for (int k = 0; k < n; k++) labels[k] = source[_order[start + k]];
        return n;
    }

    /// <summary>Copies features and targets (n×T) of a batch; returns its size n.</summary>
    public int CopyBatch(int batchIndex, Span<float> features, Span<float> targets)
    {
        float[] source = _dataset.Targets ?? throw new InvalidOperationException("The data set has class labels, not float targets; use the int labels or one-hot overload.");
        int n = CopyFeatures(batchIndex, features);
        int t = _dataset.TargetWidth;
        if (targets.Length < n * t) throw new ArgumentException($"Batch {batchIndex} needs {n * t} target floats; the buffer has {targets.Length}.", nameof(targets));
        int start = batchIndex * BatchSize;
        for (int k = 0; k < n; k++) source.AsSpan(_order[start + k] * t, t).CopyTo(targets.Slice(k * t, t));
        return n;
    }

    /// <summary>Copies features, class labels and their one-hot encoding (n×classes) of a batch; returns n.</summary>
    public int CopyBatchOneHot(int batchIndex, Span<float> features, Span<int> labels, Span<float> oneHot)
    {
        int n = CopyBatch(batchIndex, features, labels);
        OneHot.Encode(labels.Slice(0, n), _dataset.ClassCount, oneHot);
        return n;
    }
}
