using System;
using Graph.Runtime.Evaluation;

namespace Graph.Runtime.Tests.Evaluation;

public class MetricsTests
{
    // y_true = [0,0,1,1,2,2,2], y_pred = [0,1,1,1,2,0,1]; per class by hand:
    //   0: TP 1, predicted 2, support 2 → P 1/2, R 1/2, F1 1/2
    //   1: TP 2, predicted 4, support 2 → P 1/2, R 1,   F1 4/6
    //   2: TP 1, predicted 1, support 3 → P 1,   R 1/3, F1 2/4
    private static readonly int[] Actual = [0, 0, 1, 1, 2, 2, 2];
    private static readonly int[] Predicted = [0, 1, 1, 1, 2, 0, 1];

    private static ConfusionMatrix Example()
    {
        var m = new ConfusionMatrix(3);
        m.Add(Actual, Predicted);
        return m;
    }

    [Fact]
    public void CountsFollowRowsTrueColumnsPredicted()
    {
        var m = Example();
        Assert.Equal(1, m[0, 0]);
        Assert.Equal(1, m[0, 1]);
        Assert.Equal(1, m[2, 0]);
        Assert.Equal(1, m[2, 1]);
        Assert.Equal(7, m.Total);
        Assert.Equal(4.0 / 7, m.Accuracy, 12);
    }

    [Fact]
    public void PerClassPrecisionRecallF1()
    {
        var m = Example();
        Assert.Equal([0.5, 0.5, 1.0], new[] { m.Precision(0), m.Precision(1), m.Precision(2) });
        Assert.Equal(0.5, m.Recall(0), 12);
        Assert.Equal(1.0, m.Recall(1), 12);
        Assert.Equal(1.0 / 3, m.Recall(2), 12);
        Assert.Equal(0.5, m.F1(0), 12);
        Assert.Equal(2.0 / 3, m.F1(1), 12);
        Assert.Equal(0.5, m.F1(2), 12);
    }

    [Fact]
    public void MacroAndWeightedAverages()
    {
        var m = Example();
        Assert.Equal(2.0 / 3, m.MacroPrecision, 12);
        Assert.Equal((0.5 + 1 + 1.0 / 3) / 3, m.MacroRecall, 12);
        Assert.Equal((0.5 + 2.0 / 3 + 0.5) / 3, m.MacroF1, 12);
        Assert.Equal((0.5 * 2 + 2.0 / 3 * 2 + 0.5 * 3) / 7, m.WeightedF1, 12);
        Assert.Equal(m.Accuracy, m.WeightedRecall, 12);
    }

    [Fact]
    public void ZeroDivisionIsZero()
    {
        // Class 3 never occurs and is never predicted: P = R = F1 = 0, and it still counts in the macro mean.
        var m = new ConfusionMatrix(4);
        m.Add(Actual, Predicted);
        Assert.Equal(0, m.Precision(3));
        Assert.Equal(0, m.Recall(3));
        Assert.Equal(0, m.F1(3));
        Assert.Equal((0.5 + 2.0 / 3 + 0.5) / 4, m.MacroF1, 12);
        Assert.Equal(0, new ConfusionMatrix(2).Accuracy);
    }

    [Fact]
    public void ArgMaxTakesFirstMaximum()
    {
        Assert.Equal(1, Metrics.ArgMax([0f, 3f, 3f, -1f]));
        var predictions = new int[2];
        Metrics.ArgMaxRows([0.1f, 0.7f, 0.2f, 5f, -1f, 4f], 3, predictions);
        Assert.Equal([1, 0], predictions);
        Assert.Equal(1, Metrics.CountCorrect([0.1f, 0.7f, 0.2f, 5f, -1f, 4f], 3, [1, 2]));
        Assert.Throws<ArgumentException>(() => Metrics.ArgMax([]));
    }

    [Fact]
    public void AccuracyAndLogitsAccumulation()
    {
        Assert.Equal(4.0 / 7, Metrics.Accuracy(Predicted, Actual), 12);
        var m = new ConfusionMatrix(2);
        m.AddLogits([2f, 1f, 0f, 3f, 1f, 0f], [0, 1, 1]);
        Assert.Equal(2, m[0, 0] + m[1, 1]);
        Assert.Equal(1, m[1, 0]);
        m.Reset();
        Assert.Equal(0, m.Total);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Add(2, 0));
    }

    [Fact]
    public void ReportTableMatchesSklearnLayout()
    {
        var report = ClassificationReport.From(Example(), ["cat", "dog", "bird"]);
        Assert.Equal(0.5, report.Classes[0].Precision);
        Assert.Equal(3, report.Classes[2].Support);
        string expected =
            "             precision    recall  f1-score   support\n" +
            "\n" +
            "         cat    0.5000    0.5000    0.5000         2\n" +
            "         dog    0.5000    1.0000    0.6667         2\n" +
            "        bird    1.0000    0.3333    0.5000         3\n" +
            "\n" +
            "    accuracy" + new string(' ', 24) + "0.5714         7\n" +
            "   macro avg    0.6667    0.6111    0.5556         7\n" +
            "weighted avg    0.7143    0.5714    0.5476         7\n";
        Assert.Equal(expected, report.ToString());
    }
}
