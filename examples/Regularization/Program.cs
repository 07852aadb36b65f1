// Under- and over-fitting: a big MLP (784-512-512-10) trained on only 1000 MNIST images, four ways:
//   plain        no regularization: training loss → 0 while the validation loss climbs (over-fitting)
//   l2           + 5e-4·Σw² in the loss
//   dropout      p = 0.5 after each hidden layer
//   early-stop   plain, but stop when the validation loss has not improved for --patience epochs and
//                restore the best epoch's weights
// It prints the validation curves side by side, the test accuracy of each, and writes PNGs.
//
//   dotnet run -c Release --project examples/Regularization [-- --epochs 40 --train-size 1000 --plots plots/regularization]

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Graph.Runtime.Data;
using Graph.Runtime.Initialization;
using Graph.Runtime.Models;
using Graph.Runtime.Optimizers;
using Graph.Runtime.Training;
using Graph.Training;

namespace RegularizationExample;

public static class Program
{
    private sealed record Run(string Label, TrainingHistory History, double TestAccuracy, double TestLoss, int? BestEpoch);

    public static int Main(string[] args)
    {
        int epochs = 40, trainSize = 1000, validationSize = 5000, patience = 5, batchSize = 64;
        int? testSize = null;
        int? maxBatches = null;
        ulong seed = 1;
        string plots = Path.Combine("plots", "regularization");
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--epochs": epochs = Int(); break;
                case "--train-size": trainSize = Int(); break;
                case "--validation-size": validationSize = Int(); break;
                case "--test-size": testSize = Int(); break;
                case "--patience": patience = Int(); break;
                case "--batch-size": batchSize = Int(); break;
                case "--max-batches": maxBatches = Int(); break;
                case "--seed": seed = ulong.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--plots": plots = Next(); break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'; options: --epochs --train-size --validation-size --test-size --patience --batch-size --max-batches --seed --plots");
                    return 2;
            }
        }

        // A small random training subset and a separate validation subset of MNIST's training images.
        var mnist = Graph.Runtime.Data.Mnist.Load();
        var order = Shuffling.Permutation(mnist.Train.Count, new Rng(seed));
        var train = mnist.Train.Subset(order.AsSpan(0, trainSize));
        var validation = mnist.Train.Subset(order.AsSpan(trainSize, validationSize));
        var test = testSize is int t ? mnist.Test.Subset(Shuffling.Permutation(mnist.Test.Count, new Rng(seed)).AsSpan(0, Math.Min(t, mnist.Test.Count))) : mnist.Test;
        Console.WriteLine($"training on {train.Count} images, validating on {validation.Count}, testing on {test.Count}");

        var runs = new List<Run>
        {
            Train("plain", new Plain(batchSize, seed), train, validation, test, epochs, batchSize, seed, maxBatches, null),
            Train("l2", new WithL2(batchSize, seed), train, validation, test, epochs, batchSize, seed, maxBatches, null),
            Train("dropout", new WithDropout(batchSize, seed), train, validation, test, epochs, batchSize, seed, maxBatches, null),
            Train("early-stop", new Plain(batchSize, seed), train, validation, test, epochs, batchSize, seed, maxBatches, patience),
        };

        // The model's loss is what it minimizes, so l2's losses include the penalty λ·Σw² on top of the cross-entropy.
        Console.WriteLine();
        Console.WriteLine($"(the l2 run's losses include its penalty {WithL2.Lambda.ToString("G", CultureInfo.InvariantCulture)}·Σw²; compare accuracies across runs)");
        PrintTable(runs, "validation loss", e => e.ValidationLoss);
        PrintTable(runs, "validation accuracy", e => e.ValidationAccuracy);
        PrintTable(runs, "train loss", e => e.TrainLoss);

        Directory.CreateDirectory(plots);
        foreach (var run in runs) Plots.TrainingCurves(run.History, Path.Combine(plots, run.Label), run.Label);
        Compare(runs, Path.Combine(plots, "validation-loss.png"), "validation loss", e => e.ValidationLoss);
        Compare(runs, Path.Combine(plots, "validation-accuracy.png"), "validation accuracy", e => e.ValidationAccuracy);
        Console.WriteLine($"plots written to {Path.GetFullPath(plots)}");

        Console.WriteLine();
        foreach (var run in runs)
        {
            string best = run.BestEpoch is int b ? $" (stopped after epoch {run.History.Count}, restored epoch {b})" : "";
            Console.WriteLine($"{run.Label,-10}  test loss {F(run.TestLoss)}  test accuracy {F(run.TestAccuracy)}{best}");
        }
        return 0;
    }

    private static Run Train(string label, ISupervisedModel<int> model, Dataset train, Dataset validation, Dataset test,
        int epochs, int batchSize, ulong seed, int? maxBatches, int? patience)
    {
        Console.WriteLine();
        Console.WriteLine($"== {label} ==");
        model.Optimizer = new Adam(1e-3f);
        var result = Trainer.Fit(model, train, validation, new TrainingOptions
        {
            Epochs = epochs,
            BatchSize = batchSize,
            Seed = seed,
            EarlyStoppingPatience = patience,
            MaxBatchesPerEpoch = maxBatches,
            ShowProgress = false,
        });
        var evaluation = Trainer.Evaluate(model, test, batchSize);
        return new Run(label, result.History, evaluation.Accuracy, evaluation.Loss, patience is null ? null : result.BestEpoch);
    }

    /// <summary>One column per run, one row per epoch ("-" once a run has stopped).</summary>
    private static void PrintTable(IReadOnlyList<Run> runs, string title, Func<EpochMetrics, double> metric)
    {
        Console.WriteLine();
        Console.WriteLine(title);
        Console.WriteLine("epoch" + string.Concat(runs.Select(r => r.Label.PadLeft(12))));
        int rows = runs.Max(r => r.History.Count);
        for (int epoch = 0; epoch < rows; epoch++)
        {
            var cells = runs.Select(r => epoch < r.History.Count ? F(metric(r.History.Epochs[epoch])) : "-");
            Console.WriteLine((epoch + 1).ToString(CultureInfo.InvariantCulture).PadLeft(5) + string.Concat(cells.Select(c => c.PadLeft(12))));
        }
    }

    /// <summary>All runs' curves of one metric on one chart.</summary>
    private static void Compare(IReadOnlyList<Run> runs, string path, string title, Func<EpochMetrics, double> metric)
    {
        var plot = new ScottPlot.Plot();
        foreach (var run in runs)
        {
            var xs = run.History.Epochs.Select(e => (double)e.Epoch).ToArray();
            var ys = run.History.Epochs.Select(metric).ToArray();
            var scatter = plot.Add.Scatter(xs, ys);
            scatter.LegendText = run.Label;
        }
        plot.Title($"{title}: big MLP on a small training set");
        plot.XLabel("epoch");
        plot.YLabel(title);
        plot.ShowLegend();
        plot.SavePng(path, 720, 460);
    }

    private static string F(double v) => double.IsNaN(v) ? "-" : v.ToString("F4", CultureInfo.InvariantCulture);
}
