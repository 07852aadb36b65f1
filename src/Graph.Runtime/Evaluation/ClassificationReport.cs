using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Graph.Runtime.Evaluation;

/// <summary>Precision, recall, F1 and support of one class.</summary>
public readonly record struct ClassMetrics(string Name, double Precision, double Recall, double F1, long Support);

/// <summary>
/// Per-class and averaged metrics in the layout of scikit-learn's classification_report (macro and
/// weighted averages over all classes; 0/0 = 0). <see cref="ToString"/> renders a plain-text table.
/// </summary>
public sealed class ClassificationReport
{
    private ClassificationReport(IReadOnlyList<ClassMetrics> classes, double accuracy, ClassMetrics macro, ClassMetrics weighted, long total)
    {
        Classes = classes;
        Accuracy = accuracy;
        MacroAverage = macro;
        WeightedAverage = weighted;
        Total = total;
    }

    /// <summary>One row per class, in class order.</summary>
    public IReadOnlyList<ClassMetrics> Classes { get; }

    /// <summary>Overall accuracy.</summary>
    public double Accuracy { get; }

    /// <summary>Unweighted means over classes.</summary>
    public ClassMetrics MacroAverage { get; }

    /// <summary>Support-weighted means over classes.</summary>
    public ClassMetrics WeightedAverage { get; }

    /// <summary>Number of samples.</summary>
    public long Total { get; }

    /// <summary>Builds the report from a confusion matrix; class names default to "0", "1", ...</summary>
    public static ClassificationReport From(ConfusionMatrix matrix, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        if (classNames is not null && classNames.Count != matrix.ClassCount)
            throw new ArgumentException($"{classNames.Count} class names for {matrix.ClassCount} classes.", nameof(classNames));
        var rows = new ClassMetrics[matrix.ClassCount];
        for (int c = 0; c < rows.Length; c++)
        {
            string name = classNames?[c] ?? c.ToString(CultureInfo.InvariantCulture);
            rows[c] = new ClassMetrics(name, matrix.Precision(c), matrix.Recall(c), matrix.F1(c), matrix.Support(c));
        }
        return new ClassificationReport(rows, matrix.Accuracy,
            new ClassMetrics("macro avg", matrix.MacroPrecision, matrix.MacroRecall, matrix.MacroF1, matrix.Total),
            new ClassMetrics("weighted avg", matrix.WeightedPrecision, matrix.WeightedRecall, matrix.WeightedF1, matrix.Total),
            matrix.Total);
    }

    /// <summary>
    /// The table, e.g.
    /// <code>
    ///               precision    recall  f1-score   support
    ///
    ///            0     0.5000    1.0000    0.6667         1
    ///     accuracy                         0.6667         3
    ///    macro avg     ...
    /// </code>
    /// Four decimals, invariant culture.
    /// </summary>
    public override string ToString()
    {
        int nameWidth = Math.Max(12, Classes.Max(c => c.Name.Length));
        var text = new StringBuilder();
        string Number(double value) => value.ToString("0.0000", CultureInfo.InvariantCulture).PadLeft(10);
        string Count(long value) => value.ToString(CultureInfo.InvariantCulture).PadLeft(10);
        void Row(ClassMetrics m) => text.Append(m.Name.PadLeft(nameWidth)).Append(Number(m.Precision)).Append(Number(m.Recall))
            .Append(Number(m.F1)).Append(Count(m.Support)).Append('\n');

        text.Append(new string(' ', nameWidth)).Append(" precision").Append("    recall").Append("  f1-score").Append("   support").Append("\n\n");
        foreach (var row in Classes) Row(row);
        text.Append('\n');
        text.Append("accuracy".PadLeft(nameWidth)).Append(new string(' ', 20)).Append(Number(Accuracy)).Append(Count(Total)).Append('\n');
        Row(MacroAverage);
        Row(WeightedAverage);
        return text.ToString();
    }
}
