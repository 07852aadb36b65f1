using System;
using System.Collections.Generic;

namespace Graph.Runtime.Data;

/// <summary>
/// An in-memory data set: N samples of D features each, stored row-major in one float array
/// (sample i occupies Features[i·D .. (i+1)·D)), with either integer class labels or float targets
/// (N×T row-major). <see cref="SampleShape"/> records the per-sample layout, e.g. [1, 28, 28] (CHW)
/// for MNIST, [D] for tabular data.
/// </summary>
public sealed class Dataset
{
    private readonly int[] _sampleShape;

    /// <summary>A classification data set.</summary>
    /// <param name="features">N×D features, row-major (not copied).</param>
    /// <param name="sampleShape">Per-sample shape; its product is D.</param>
    /// <param name="labels">N class indices in [0, classCount) (not copied).</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="classNames">Optional display names, one per class.</param>
    /// <param name="featureNames">Optional names, one per feature.</param>
    /// <exception cref="ArgumentException">Sizes disagree or a label is out of range.</exception>
    public Dataset(float[] features, ReadOnlySpan<int> sampleShape, int[] labels, int classCount,
        IReadOnlyList<string>? classNames = null, IReadOnlyList<string>? featureNames = null)
        : this(features, sampleShape, featureNames)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        if (labels.Length != Count)
            throw new ArgumentException($"There are {Count} samples but {labels.Length} labels.", nameof(labels));
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
                throw new ArgumentException($"Label {labels[i]} of sample {i} is outside [0, {classCount}).", nameof(labels));
        }
        if (classNames is not null && classNames.Count != classCount)
            throw new ArgumentException($"{classNames.Count} class names for {classCount} classes.", nameof(classNames));
        Labels = labels;
        ClassCount = classCount;
        ClassNames = classNames;
    }

    /// <summary>A regression (or multi-output) data set with <paramref name="targetWidth"/> float targets per sample.</summary>
    /// <exception cref="ArgumentException">Sizes disagree.</exception>
    public Dataset(float[] features, ReadOnlySpan<int> sampleShape, float[] targets, int targetWidth,
        IReadOnlyList<string>? featureNames = null)
        : this(features, sampleShape, featureNames)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetWidth);
        if (targets.Length != (long)Count * targetWidth)
            throw new ArgumentException($"There are {Count} samples, so {Count}×{targetWidth} targets were expected, but got {targets.Length}.", nameof(targets));
        Targets = targets;
        TargetWidth = targetWidth;
    }

    private Dataset(float[] features, ReadOnlySpan<int> sampleShape, IReadOnlyList<string>? featureNames)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (sampleShape.IsEmpty) throw new ArgumentException("The sample shape needs at least one dimension.", nameof(sampleShape));
        long featureCount = 1;
        foreach (int d in sampleShape)
        {
            if (d <= 0) throw new ArgumentException($"Sample shape [{string.Join(", ", sampleShape.ToArray())}] has a non-positive dimension.", nameof(sampleShape));
            featureCount *= d;
        }
        if (featureCount > int.MaxValue) throw new ArgumentException("A sample has more than int.MaxValue features.", nameof(sampleShape));
        if (features.Length % featureCount != 0)
            throw new ArgumentException($"{features.Length} feature values are not a whole number of samples of {featureCount} features.", nameof(features));
        if (featureNames is not null && featureNames.Count != featureCount)
            throw new ArgumentException($"{featureNames.Count} feature names for {featureCount} features.", nameof(featureNames));
        Features = features;
        FeatureCount = (int)featureCount;
        Count = (int)(features.Length / featureCount);
        _sampleShape = sampleShape.ToArray();
        FeatureNames = featureNames;
    }

    /// <summary>All features, N×D row-major.</summary>
    public float[] Features { get; }

    /// <summary>Number of samples N.</summary>
    public int Count { get; }

    /// <summary>Features per sample D (the product of <see cref="SampleShape"/>).</summary>
    public int FeatureCount { get; }

    /// <summary>Shape of one sample, e.g. [1, 28, 28] or [D].</summary>
    public ReadOnlySpan<int> SampleShape => _sampleShape;

    /// <summary>Class index per sample, or null for a regression data set.</summary>
    public int[]? Labels { get; }

    /// <summary>Number of classes (0 for regression).</summary>
    public int ClassCount { get; }

    /// <summary>Optional class names (e.g. from a CSV with text labels).</summary>
    public IReadOnlyList<string>? ClassNames { get; }

    /// <summary>Targets, N×<see cref="TargetWidth"/> row-major, or null for a classification data set.</summary>
    public float[]? Targets { get; }

    /// <summary>Targets per sample (0 for classification).</summary>
    public int TargetWidth { get; }

    /// <summary>Optional feature names (e.g. a CSV header).</summary>
    public IReadOnlyList<string>? FeatureNames { get; }

    /// <summary>True when the samples carry class labels.</summary>
    public bool IsClassification => Labels is not null;

    /// <summary>The features of sample <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> SampleFeatures(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"The data set has {Count} samples.");
        return Features.AsSpan(index * FeatureCount, FeatureCount);
    }

    /// <summary>A new data set with copies of the given samples, in the given order.</summary>
    public Dataset Subset(ReadOnlySpan<int> indices)
    {
        var features = new float[(long)indices.Length * FeatureCount];
        for (int k = 0; k < indices.Length; k++)
            SampleFeatures(indices[k]).CopyTo(features.AsSpan(k * FeatureCount, FeatureCount));
        if (Labels is not null)
        {
            var labels = new int[indices.Length];
            for (int k = 0; k < indices.Length; k++) labels[k] = Labels[indices[k]];
            return new Dataset(features, _sampleShape, labels, ClassCount, ClassNames, FeatureNames);
        }
        var targets = new float[(long)indices.Length * TargetWidth];
        for (int k = 0; k < indices.Length; k++)
            Targets.AsSpan(indices[k] * TargetWidth, TargetWidth).CopyTo(targets.AsSpan(k * TargetWidth, TargetWidth));
        return new Dataset(features, _sampleShape, targets, TargetWidth, FeatureNames);
    }

    /// <summary>The same samples with other features of the same size (e.g. scaled); labels/targets are shared, not copied.</summary>
    public Dataset WithFeatures(float[] features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Length != Features.Length)
            throw new ArgumentException($"Expected {Features.Length} feature values, got {features.Length}.", nameof(features));
        return Labels is not null
            ? new Dataset(features, _sampleShape, Labels, ClassCount, ClassNames, FeatureNames)
            : new Dataset(features, _sampleShape, Targets!, TargetWidth, FeatureNames);
    }
}
