// Beyond accuracy: trains softmax regression on MNIST briefly, then reports on the test set
// precision, recall and F1 per digit with their macro and weighted averages (scikit-learn's
// classification_report), the confusion matrix as a table, and the confusion matrix as a PNG.
//
//   dotnet run -c Release --project examples/EvaluationReport [-- --epochs 2 --max-batches N --plots DIR]

using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Graph.Runtime.Data;
using Graph.Runtime.Evaluation;
using Graph.Runtime.Initialization;
using Graph.Runtime.Optimizers;
using Graph.Training;

namespace EvaluationReportExample;

public static class Program
{
    public static int Main(string[] args)
    {
        int epochs = 2, batchSize = 64;
        int? maxBatches = null;
        ulong seed = 1;
        string plots = Path.Combine("plots", "evaluation");
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--epochs": epochs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--batch-size": batchSize = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--max-batches": maxBatches = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--seed": seed = ulong.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--plots": plots = Next(); break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'; options: --epochs --batch-size --max-batches --seed --plots");
                    return 2;
            }
        }

        var mnist = Graph.Runtime.Data.Mnist.Load();
        var (train, validation) = Splits.TrainValidation(mnist.Train, 0.1, new Rng(seed));
        var model = new SoftmaxRegression(batchSize, seed) { Optimizer = new Sgd(learningRate: 0.1f) };
        Trainer.Fit(model, train, validation, new TrainingOptions
        {
            Epochs = epochs,
            BatchSize = batchSize,
            Seed = seed,
            MaxBatchesPerEpoch = maxBatches,
        });

        var test = Trainer.Evaluate(model, mnist.Test, batchSize);
        var matrix = test.Confusion ?? throw new InvalidOperationException("a classifier's evaluation has a confusion matrix");
        var report = ClassificationReport.From(matrix);

        Console.WriteLine();
        Console.WriteLine("classification report (test set)");
        Console.WriteLine();
        Console.Write(report.ToString());
        Console.WriteLine();
        Console.WriteLine("confusion matrix (rows: actual digit, columns: predicted digit)");
        Console.WriteLine();
        Console.Write(Table(matrix));

        // The digits most often confused with each other: the largest off-diagonal cells.
        var confusions = from a in Enumerable.Range(0, matrix.ClassCount)
                         from p in Enumerable.Range(0, matrix.ClassCount)
                         where a != p && matrix[a, p] > 0
                         orderby matrix[a, p] descending, a, p
                         select $"{a} → {p}: {matrix[a, p]}";
        Console.WriteLine();
        Console.WriteLine("most frequent mistakes (actual → predicted): " + string.Join(", ", confusions.Take(5)));

        string path = Path.Combine(plots, "confusion-matrix.png");
        Plots.ConfusionMatrix(matrix, path, model.Name);
        Console.WriteLine($"confusion matrix written to {Path.GetFullPath(path)}");
        Console.WriteLine($"macro F1: {F(report.MacroAverage.F1)}");
        Console.WriteLine($"test accuracy: {F(report.Accuracy)}");
        return 0;
    }

    private static string Table(ConfusionMatrix matrix)
    {
        int k = matrix.ClassCount;
        int width = Math.Max(6, matrix.Total.ToString(CultureInfo.InvariantCulture).Length + 1);
        var text = new StringBuilder();
        text.Append("act\\pred".PadLeft(9)).Append(string.Concat(Enumerable.Range(0, k).Select(p => p.ToString(CultureInfo.InvariantCulture).PadLeft(width))))
            .Append("support".PadLeft(9)).Append('\n');
        for (int a = 0; a < k; a++)
        {
            text.Append(a.ToString(CultureInfo.InvariantCulture).PadLeft(9));
            for (int p = 0; p < k; p++) text.Append(matrix[a, p].ToString(CultureInfo.InvariantCulture).PadLeft(width));
            text.Append(matrix.Support(a).ToString(CultureInfo.InvariantCulture).PadLeft(9)).Append('\n');
        }
        return text.ToString();
    }

    private static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);
}
