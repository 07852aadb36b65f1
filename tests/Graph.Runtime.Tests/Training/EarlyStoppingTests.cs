using System;
using System.IO;
using Graph.Runtime.Training;

namespace Graph.Runtime.Tests.Training;

public class EarlyStoppingTests
{
    [Fact]
    public void StopsAfterPatienceEpochsWithoutImprovementBeyondMinDelta()
    {
        var stopping = new EarlyStopping(patience: 2, minDelta: 0.01);
        Assert.False(stopping.Observe(1, 1.0));    // first value always improves on +∞
        Assert.False(stopping.Observe(2, 0.95));   // improves by 0.05
        Assert.False(stopping.Observe(3, 0.945));  // 0.005 < minDelta: no improvement (1)
        Assert.Equal(1, stopping.EpochsWithoutImprovement);
        Assert.True(stopping.Observe(4, 0.944));   // (2) → stop
        Assert.Equal(2, stopping.BestEpoch);
        Assert.Equal(0.95, stopping.BestValue);
    }

    [Fact]
    public void ImprovementResetsTheCounterAndNaNNeverImproves()
    {
        var stopping = new EarlyStopping(patience: 2);
        stopping.Observe(1, 1.0);
        stopping.Observe(2, double.NaN);
        Assert.False(stopping.LastImproved);
        Assert.False(stopping.Observe(3, 0.5));
        Assert.Equal(0, stopping.EpochsWithoutImprovement);
        Assert.Equal(3, stopping.BestEpoch);
    }

    [Fact]
    public void MaxModeForAccuracy()
    {
        var stopping = new EarlyStopping(patience: 1, mode: MonitorMode.Max);
        stopping.Observe(1, 0.8);
        Assert.False(stopping.Observe(2, 0.9));
        Assert.True(stopping.Observe(3, 0.9)); // equal is not better
        Assert.Equal(0.9, stopping.BestValue);
    }

    [Fact]
    public void KeepsAndRestoresBestWeights()
    {
        float[] w = [1, 2, 3], b = [4];
        Memory<float>[] weights = [w, b];
        var stopping = new EarlyStopping(patience: 3);
        stopping.Observe(1, 0.5, weights);
        w[0] = 100; b[0] = 200;                     // training moves on...
        stopping.Observe(2, 0.7, weights);          // ...but gets worse: not captured
        Assert.True(stopping.HasBestWeights);
        stopping.RestoreBestWeights(weights);
        Assert.Equal([1f, 2f, 3f], w);
        Assert.Equal([4f], b);
        Assert.Throws<ArgumentException>(() => stopping.RestoreBestWeights([w]));
        Assert.Throws<InvalidOperationException>(() => new EarlyStopping(1).RestoreBestWeights(weights));
    }

    [Fact]
    public void HistoryRecordsEpochsAndExportsCsv()
    {
        var history = new TrainingHistory();
        history.Add(new EpochMetrics(1, 0.9, 0.7, 0.8, 0.75, 0.01f, TimeSpan.FromSeconds(1.5)));
        history.Add(new EpochMetrics(2, 0.5, 0.85, 0.6, 0.8, 0.005f, TimeSpan.FromSeconds(1.25)));
        history.Add(new EpochMetrics(3, 0.4, 0.9, 0.65, 0.79, 0.005f, TimeSpan.FromSeconds(1)));
        Assert.Equal(3, history.Count);
        Assert.Equal(2, history.BestByValidationLoss()!.Value.Epoch);
        Assert.Equal(3, history.Last.Epoch);
        string[] lines = history.ToCsv().Split('\n');
        Assert.Equal("epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,seconds", lines[0]);
        Assert.Equal("2,0.5,0.85,0.6,0.8,0.005,1.25", lines[2]);
        Assert.Null(new TrainingHistory().BestByValidationLoss());
    }

    [Fact]
    public void RunningMeanWeighsBatchesBySize()
    {
        var mean = new RunningMean();
        Assert.True(double.IsNaN(mean.Mean));
        mean.Add(1.0, 4);
        mean.Add(4.0, 2); // (4·1 + 2·4) / 6 = 2
        Assert.Equal(2.0, mean.Mean, 12);
        mean.Reset();
        Assert.Equal(0, mean.Count);
    }
}
