using System;

namespace Graph.Runtime.Data;

/// <summary>A per-feature affine normalization fitted on training data: x' = (x − Offset)/Scale.</summary>
public abstract class FeatureScaler
{
    private readonly float[] _offset;
    private readonly float[] _scale;

    private protected FeatureScaler(float[] offset, float[] scale)
    {
        _offset = offset;
        _scale = scale;
    }

    /// <summary>Number of features D the scaler was fitted on.</summary>
    public int FeatureCount => _offset.Length;

    /// <summary>Per-feature value subtracted first.</summary>
    public ReadOnlySpan<float> Offset => _offset;

    /// <summary>Per-feature divisor applied after the offset (never 0).</summary>
    public ReadOnlySpan<float> Scale => _scale;

    /// <summary>Normalizes N×D row-major features in place.</summary>
    public void Transform(Span<float> features)
    {
        CheckShape(features.Length);
        int d = FeatureCount;
        for (int row = 0; row < features.Length; row += d)
        {
            Span<float> sample = features.Slice(row, d);
            for (int j = 0; j < d; j++) sample[j] = (sample[j] - _offset[j]) / _scale[j];
        }
    }

    /// <summary>Undoes <see cref="Transform(Span{float})"/> in place.</summary>
    public void InverseTransform(Span<float> features)
    {
        CheckShape(features.Length);
        int d = FeatureCount;
        for (int row = 0; row < features.Length; row += d)
        {
            Span<float> sample = features.Slice(row, d);
            for (int j = 0; j < d; j++) sample[j] = sample[j] * _scale[j] + _offset[j];
        }
    }

    /// <summary>A normalized copy of the data set (labels/targets shared).</summary>
    public Dataset Transform(Dataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.FeatureCount != FeatureCount)
            throw new ArgumentException($"The scaler was fitted on {FeatureCount} features; the data set has {dataset.FeatureCount}.", nameof(dataset));
        var features = (float[])dataset.Features.Clone();
        Transform(features);
        return dataset.WithFeatures(features);
    }

    private void CheckShape(int length)
    {
        if (length % FeatureCount != 0)
            throw new ArgumentException($"{length} values are not whole rows of {FeatureCount} features.");
    }

    private protected static void CheckFitInput(ReadOnlySpan<float> features, int featureCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(featureCount);
        if (features.Length == 0 || features.Length % featureCount != 0)
            throw new ArgumentException($"Fitting needs at least one whole row of {featureCount} features (got {features.Length} values).", nameof(features));
    }
}

/// <summary>
/// Standardization like scikit-learn's StandardScaler: per feature, subtract the mean and divide by
/// the population standard deviation (ddof = 0) of the training data. A constant feature gets
/// scale 1 (sklearn does the same), so it maps to 0 instead of dividing by zero.
/// </summary>
public sealed class StandardScaler : FeatureScaler
{
    private StandardScaler(float[] mean, float[] std) : base(mean, std) { }

    /// <summary>Fits on N×D training features (accumulated in double).</summary>
    public static StandardScaler Fit(ReadOnlySpan<float> features, int featureCount)
    {
        CheckFitInput(features, featureCount);
        int rows = features.Length / featureCount;
        var sum = new double[featureCount];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < featureCount; j++) sum[j] += features[r * featureCount + j];
        var mean = new double[featureCount];
        for (int j = 0; j < featureCount; j++) mean[j] = sum[j] / rows;
        // Second pass about the mean: numerically safer than E[x²] − E[x]².
        var squares = new double[featureCount];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < featureCount; j++)
            {
                double deviation = features[r * featureCount + j] - mean[j];
                squares[j] += deviation * deviation;
            }
        var offset = new float[featureCount];
        var scale = new float[featureCount];
        for (int j = 0; j < featureCount; j++)
        {
            offset[j] = (float)mean[j];
            double std = Math.Sqrt(squares[j] / rows);
            scale[j] = std > 0 && (float)std > 0f ? (float)std : 1f;
        }
        return new StandardScaler(offset, scale);
    }

    /// <summary>Fits on a (training) data set's features.</summary>
    public static StandardScaler Fit(Dataset training)
    {
        ArgumentNullException.ThrowIfNull(training);
        return Fit(training.Features, training.FeatureCount);
    }

    /// <summary>Per-feature training mean.</summary>
    public ReadOnlySpan<float> Mean => Offset;

    /// <summary>Per-feature training standard deviation (1 for constant features).</summary>
    public ReadOnlySpan<float> StandardDeviation => Scale;
}

/// <summary>
/// Min-max scaling like scikit-learn's MinMaxScaler: per feature, maps the training [min, max] to
/// [rangeMin, rangeMax] (default [0, 1]). A constant feature gets range 1 (as sklearn), i.e. maps
/// to rangeMin. Values outside the training range map outside the target range (no clipping).
/// </summary>
public sealed class MinMaxScaler : FeatureScaler
{
    private MinMaxScaler(float[] offset, float[] scale) : base(offset, scale) { }

    /// <summary>Fits on N×D training features.</summary>
    public static MinMaxScaler Fit(ReadOnlySpan<float> features, int featureCount, float rangeMin = 0f, float rangeMax = 1f)
    {
        CheckFitInput(features, featureCount);
        if (!(rangeMax > rangeMin)) throw new ArgumentException($"The target range [{rangeMin}, {rangeMax}] is empty.", nameof(rangeMax));
        int rows = features.Length / featureCount;
        var min = new float[featureCount];
        var max = new float[featureCount];
        features.Slice(0, featureCount).CopyTo(min);
        features.Slice(0, featureCount).CopyTo(max);
        for (int r = 1; r < rows; r++)
            for (int j = 0; j < featureCount; j++)
            {
                float x = features[r * featureCount + j];
                if (x < min[j]) min[j] = x;
                if (x > max[j]) max[j] = x;
            }
        // x' = rangeMin + (x − min)(rangeMax − rangeMin)/(max − min) = (x − offset)/scale with
        // scale = (max − min)/(rangeMax − rangeMin), offset = min − rangeMin·scale.
        var offset = new float[featureCount];
        var scale = new float[featureCount];
        double width = (double)rangeMax - rangeMin;
        for (int j = 0; j < featureCount; j++)
        {
            double dataRange = (double)max[j] - min[j];
            if (dataRange == 0) dataRange = 1;
            double s = dataRange / width;
            scale[j] = (float)s;
            offset[j] = (float)(min[j] - rangeMin * s);
        }
        return new MinMaxScaler(offset, scale);
    }

    /// <summary>Fits on a (training) data set's features.</summary>
    public static MinMaxScaler Fit(Dataset training, float rangeMin = 0f, float rangeMax = 1f)
    {
        ArgumentNullException.ThrowIfNull(training);
        return Fit(training.Features, training.FeatureCount, rangeMin, rangeMax);
    }
}
