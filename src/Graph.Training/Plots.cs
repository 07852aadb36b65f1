using System;
using System.IO;
using System.Linq;
using Graph.Runtime.Evaluation;
using Graph.Runtime.Training;

namespace Graph.Training;

/// <summary>PNG charts of a training run (ScottPlot).</summary>
public static class Plots
{
    /// <summary>Loss and accuracy per epoch, train and validation: writes PATH-loss.png and PATH-accuracy.png for prefix <paramref name="pathPrefix"/>.</summary>
    public static void TrainingCurves(TrainingHistory history, string pathPrefix, string title)
    {
        var epochs = history.Epochs.Select(e => (double)e.Epoch).ToArray();
        Curve(pathPrefix + "-loss.png", $"{title}: loss", epochs,
            history.Epochs.Select(e => e.TrainLoss).ToArray(), history.Epochs.Select(e => e.ValidationLoss).ToArray());
        Curve(pathPrefix + "-accuracy.png", $"{title}: accuracy", epochs,
            history.Epochs.Select(e => e.TrainAccuracy).ToArray(), history.Epochs.Select(e => e.ValidationAccuracy).ToArray());
    }

    private static void Curve(string path, string title, double[] epochs, double[] train, double[] validation)
    {
        if (train.All(double.IsNaN) && validation.All(double.IsNaN)) return;
        var plot = new ScottPlot.Plot();
        AddSeries(plot, epochs, train, "train");
        AddSeries(plot, epochs, validation, "validation");
        plot.Title(title);
        plot.XLabel("epoch");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.ShowLegend();
        Save(path, () => plot.SavePng(path, 640, 420));
    }

    /// <summary>The confusion matrix as a heat map with counts (rows: actual class, columns: predicted).</summary>
    public static void ConfusionMatrix(ConfusionMatrix matrix, string path, string title)
    {
        int k = matrix.ClassCount;
        var plot = new ScottPlot.Plot();
        var values = new double[k, k];
        for (int actual = 0; actual < k; actual++)
            for (int predicted = 0; predicted < k; predicted++)
                values[actual, predicted] = Math.Log10(1 + matrix[actual, predicted]);
        var heatmap = plot.Add.Heatmap(values);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        for (int actual = 0; actual < k; actual++)
            for (int predicted = 0; predicted < k; predicted++)
            {
                var text = plot.Add.Text(matrix[actual, predicted].ToString(System.Globalization.CultureInfo.InvariantCulture), predicted, k - 1 - actual);
                text.LabelFontColor = ScottPlot.Colors.White;
                text.LabelFontSize = 10;
                text.LabelAlignment = ScottPlot.Alignment.MiddleCenter;
            }
        // Actual class 0 is the top row: label the rows accordingly and show whole cells only.
        var rows = Enumerable.Range(0, k).ToArray();
        var classNames = rows.Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(rows.Select(c => (double)(k - 1 - c)).ToArray(), classNames);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(rows.Select(c => (double)c).ToArray(), classNames);
        plot.Axes.SetLimits(-0.5, k - 0.5, -0.5, k - 0.5);
        plot.Title($"{title}: confusion matrix (log color scale)");
        plot.XLabel("predicted");
        plot.YLabel("actual");
        Save(path, () => plot.SavePng(path, 620, 560));
    }

    private static void AddSeries(ScottPlot.Plot plot, double[] xs, double[] ys, string label)
    {
        if (ys.All(double.IsNaN)) return;
        var scatter = plot.Add.Scatter(xs, ys);
        scatter.LegendText = label;
    }

    private static void Save(string path, Action save)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        save();
    }
}
