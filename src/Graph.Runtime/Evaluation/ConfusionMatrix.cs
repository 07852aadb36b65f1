using System;

namespace Graph.Runtime.Evaluation;

/// <summary>
/// Counts of (true class, predicted class) pairs, rows = true class, columns = predicted (the
/// scikit-learn convention), with per-class and averaged precision, recall and F1. A ratio whose
/// denominator is zero is defined as 0, as scikit-learn's zero_division=0.
/// </summary>
public sealed class ConfusionMatrix
{
    private readonly long[] _counts;

    /// <summary>An empty matrix for <paramref name="classCount"/> classes.</summary>
    public ConfusionMatrix(int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        ClassCount = classCount;
        _counts = new long[classCount * classCount];
    }

    /// <summary>Number of classes C.</summary>
    public int ClassCount { get; }

    /// <summary>Count of samples of true class <paramref name="actual"/> predicted as <paramref name="predicted"/>.</summary>
    public long this[int actual, int predicted] => _counts[Index(actual, nameof(actual)) * ClassCount + Index(predicted, nameof(predicted))];

    /// <summary>Total number of samples recorded.</summary>
    public long Total { get; private set; }

    /// <summary>Records one sample.</summary>
    public void Add(int actual, int predicted)
    {
        _counts[Index(actual, nameof(actual)) * ClassCount + Index(predicted, nameof(predicted))]++;
        Total++;
    }

    /// <summary>Records a batch of samples.</summary>
    public void Add(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted)
    {
        if (actual.Length != predicted.Length)
            throw new ArgumentException($"{actual.Length} labels but {predicted.Length} predictions.", nameof(predicted));
        for (int i = 0; i < actual.Length; i++) Add(actual[i], predicted[i]);
    }

    /// <summary>Records a batch given N×C logits (argmax per row) and N labels, without allocating.</summary>
    public void AddLogits(ReadOnlySpan<float> logits, ReadOnlySpan<int> actual)
    {
        if (logits.Length != actual.Length * ClassCount)
            throw new ArgumentException($"{actual.Length} labels need {actual.Length * ClassCount} logits; got {logits.Length}.", nameof(logits));
        for (int i = 0; i < actual.Length; i++) Add(actual[i], Metrics.ArgMax(logits.Slice(i * ClassCount, ClassCount)));
    }

    /// <summary>Clears all counts.</summary>
    public void Reset()
    {
        Array.Clear(_counts);
        Total = 0;
    }

    /// <summary>Diagonal sum / total (0 when empty).</summary>
    public double Accuracy
    {
        get
        {
            long correct = 0;
            for (int c = 0; c < ClassCount; c++) correct += _counts[c * ClassCount + c];
            return Ratio(correct, Total);
        }
    }

    /// <summary>Samples whose true class is <paramref name="classIndex"/> (row sum).</summary>
    public long Support(int classIndex)
    {
        int row = Index(classIndex, nameof(classIndex)) * ClassCount;
        long sum = 0;
        for (int p = 0; p < ClassCount; p++) sum += _counts[row + p];
        return sum;
    }

    /// <summary>Samples predicted as <paramref name="classIndex"/> (column sum).</summary>
    public long PredictedCount(int classIndex)
    {
        int column = Index(classIndex, nameof(classIndex));
        long sum = 0;
        for (int a = 0; a < ClassCount; a++) sum += _counts[a * ClassCount + column];
        return sum;
    }

    /// <summary>TP / (TP + FP); 0 when the class is never predicted.</summary>
    public double Precision(int classIndex) => Ratio(this[classIndex, classIndex], PredictedCount(classIndex));

    /// <summary>TP / (TP + FN); 0 when the class never occurs.</summary>
    public double Recall(int classIndex) => Ratio(this[classIndex, classIndex], Support(classIndex));

    /// <summary>2PR / (P + R), computed as 2TP / (2TP + FP + FN) (as scikit-learn); 0 when that denominator is 0.</summary>
    public double F1(int classIndex)
    {
        long tp = this[classIndex, classIndex];
        long falsePositives = PredictedCount(classIndex) - tp, falseNegatives = Support(classIndex) - tp;
        return Ratio(2 * tp, 2 * tp + falsePositives + falseNegatives);
    }

    /// <summary>Unweighted mean of per-class precision over all C classes.</summary>
    public double MacroPrecision => Macro(Precision);

    /// <summary>Unweighted mean of per-class recall over all C classes.</summary>
    public double MacroRecall => Macro(Recall);

    /// <summary>Unweighted mean of per-class F1 over all C classes (not the F1 of macro P and R, as scikit-learn).</summary>
    public double MacroF1 => Macro(F1);

    /// <summary>Support-weighted mean of per-class precision.</summary>
    public double WeightedPrecision => Weighted(Precision);

    /// <summary>Support-weighted mean of per-class recall (equals accuracy).</summary>
    public double WeightedRecall => Weighted(Recall);

    /// <summary>Support-weighted mean of per-class F1.</summary>
    public double WeightedF1 => Weighted(F1);

    private double Macro(Func<int, double> metric)
    {
        double sum = 0;
        for (int c = 0; c < ClassCount; c++) sum += metric(c);
        return sum / ClassCount;
    }

    private double Weighted(Func<int, double> metric)
    {
        double sum = 0;
        for (int c = 0; c < ClassCount; c++) sum += metric(c) * Support(c);
        return Ratio(sum, Total);
    }

    private static double Ratio(double numerator, double denominator) => denominator == 0 ? 0 : numerator / denominator;

    private int Index(int classIndex, string name)
    {
        if ((uint)classIndex >= (uint)ClassCount)
            throw new ArgumentOutOfRangeException(name, classIndex, $"Class index must be in [0, {ClassCount}).");
        return classIndex;
    }
}
