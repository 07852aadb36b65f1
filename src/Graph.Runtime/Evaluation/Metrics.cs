using System;

namespace Graph.Runtime.Evaluation;

/// <summary>Basic classification metrics over predicted and true class indices.</summary>
public static class Metrics
{
    /// <summary>
    /// Index of the largest value; the first one on ties (as numpy/torch argmax). NaN never compares
    /// greater, so it is chosen only when it is the first element and nothing exceeds it.
    /// </summary>
    /// <exception cref="ArgumentException">The span is empty.</exception>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) throw new ArgumentException("ArgMax of an empty span.", nameof(values));
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best]) best = i;
        }
        return best;
    }

    /// <summary>Row-wise argmax of an N×C matrix of logits or probabilities (row-major) into <paramref name="predictions"/>[0..N).</summary>
    public static void ArgMaxRows(ReadOnlySpan<float> logits, int classCount, Span<int> predictions)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        if (logits.Length % classCount != 0)
            throw new ArgumentException($"{logits.Length} values are not whole rows of {classCount} classes.", nameof(logits));
        int rows = logits.Length / classCount;
        if (predictions.Length < rows)
            throw new ArgumentException($"{rows} rows need {rows} prediction slots; got {predictions.Length}.", nameof(predictions));
        for (int r = 0; r < rows; r++) predictions[r] = ArgMax(logits.Slice(r * classCount, classCount));
    }

    /// <summary>Fraction of positions where prediction equals truth (0 for empty input).</summary>
    public static double Accuracy(ReadOnlySpan<int> predicted, ReadOnlySpan<int> actual)
    {
        if (predicted.Length != actual.Length)
            throw new ArgumentException($"{predicted.Length} predictions for {actual.Length} labels.", nameof(predicted));
        if (actual.IsEmpty) return 0;
        int correct = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (predicted[i] == actual[i]) correct++;
        }
        return (double)correct / actual.Length;
    }

    /// <summary>Number of rows whose argmax equals the label (for accumulating accuracy over batches without allocation).</summary>
    public static int CountCorrect(ReadOnlySpan<float> logits, int classCount, ReadOnlySpan<int> labels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        if (logits.Length != labels.Length * classCount)
            throw new ArgumentException($"{labels.Length} labels need {labels.Length * classCount} logits; got {logits.Length}.", nameof(logits));
        int correct = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            if (ArgMax(logits.Slice(r * classCount, classCount)) == labels[r]) correct++;
        }
        return correct;
    }
}
