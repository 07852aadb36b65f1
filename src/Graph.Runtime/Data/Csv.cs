using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace Graph.Runtime.Data;

/// <summary>What the target column of a CSV file holds.</summary>
public enum CsvTarget
{
    /// <summary>Class labels: non-negative integers used as class indices, or text mapped to classes in ordinal sort order.</summary>
    Classification,
    /// <summary>A numeric regression target.</summary>
    Regression,
}

/// <summary>Options of <see cref="Csv.Read"/>.</summary>
public sealed class CsvOptions
{
    /// <summary>Field separator (default ',').</summary>
    public char Separator { get; init; } = ',';

    /// <summary>Whether the first row is a header: true, false, or null to detect it (a header has a field that is not a number).</summary>
    public bool? HasHeader { get; init; }

    /// <summary>Name of the target column (needs a header); takes precedence over <see cref="TargetColumnIndex"/>.</summary>
    public string? TargetColumnName { get; init; }

    /// <summary>Zero-based index of the target column; negative counts from the end (default −1, the last column).</summary>
    public int TargetColumnIndex { get; init; } = -1;

    /// <summary>Whether the target holds class labels (default) or a regression value.</summary>
    public CsvTarget Target { get; init; } = CsvTarget.Classification;
}

/// <summary>
/// Reader of numeric tabular CSV data into a <see cref="Dataset"/> (sample shape [D]). Fields are
/// trimmed and may be double-quoted (with "" for a quote); a quoted field cannot span lines. Numbers
/// use the invariant culture. Blank lines are skipped. There is no missing-value handling: an empty
/// or non-numeric feature is an error. Errors are <see cref="InvalidDataException"/>s naming the
/// source and the 1-based line number.
/// </summary>
public static class Csv
{
    /// <summary>Reads a CSV file.</summary>
    public static Dataset Read(string path, CsvOptions? options = null)
    {
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return Read(reader, options, path);
    }

    /// <summary>Reads CSV text; <paramref name="sourceName"/> appears in error messages.</summary>
    public static Dataset Read(TextReader reader, CsvOptions? options = null, string sourceName = "<csv>")
    {
        ArgumentNullException.ThrowIfNull(reader);
        options ??= new CsvOptions();
        var rows = new List<(int Line, string[] Fields)>();
        int lineNumber = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            rows.Add((lineNumber, SplitLine(line, options.Separator, sourceName, lineNumber)));
        }
        if (rows.Count == 0) throw new InvalidDataException($"CSV '{sourceName}' has no rows.");

        int columns = rows[0].Fields.Length;
        bool hasHeader = options.HasHeader ?? rows[0].Fields.Any(f => !IsNumber(f));
        string[]? header = hasHeader ? rows[0].Fields : null;
        int firstData = hasHeader ? 1 : 0;
        if (rows.Count == firstData) throw new InvalidDataException($"CSV '{sourceName}' has a header but no data rows.");
        if (columns < 2) throw new InvalidDataException($"CSV '{sourceName}', line {rows[0].Line}: need at least one feature column and a target column, found {columns} column.");

        int target = ResolveTargetColumn(options, header, columns, sourceName);
        int featureCount = columns - 1;
        int sampleCount = rows.Count - firstData;
        var features = new float[(long)sampleCount * featureCount];
        var targetText = new string[sampleCount];
        for (int r = firstData; r < rows.Count; r++)
        {
            var (line, fields) = rows[r];
            if (fields.Length != columns)
                throw new InvalidDataException($"CSV '{sourceName}', line {line}: expected {columns} fields but found {fields.Length}.");
            int sample = r - firstData, f = 0;
            for (int c = 0; c < columns; c++)
            {
                if (c == target)
                {
                    targetText[sample] = fields[c];
                    continue;
                }
                if (!float.TryParse(fields[c], NumberStyles.Float, CultureInfo.InvariantCulture, out float value))
                    throw new InvalidDataException($"CSV '{sourceName}', line {line}, column {ColumnName(header, c)}: cannot parse '{fields[c]}' as a number.");
                features[(long)sample * featureCount + f++] = value;
            }
        }
        string[]? featureNames = header?.Where((_, c) => c != target).ToArray();

        if (options.Target == CsvTarget.Regression)
        {
            var targets = new float[sampleCount];
            for (int i = 0; i < sampleCount; i++)
            {
                if (!float.TryParse(targetText[i], NumberStyles.Float, CultureInfo.InvariantCulture, out targets[i]))
                    throw new InvalidDataException($"CSV '{sourceName}', line {rows[i + firstData].Line}, column {ColumnName(header, target)}: cannot parse target '{targetText[i]}' as a number.");
            }
            return new Dataset(features, [featureCount], targets, 1, featureNames);
        }
        return BuildClassification(features, featureCount, targetText, featureNames, rows, firstData, sourceName, ColumnName(header, target));
    }

    private static Dataset BuildClassification(float[] features, int featureCount, string[] targetText, string[]? featureNames,
        List<(int Line, string[] Fields)> rows, int firstData, string sourceName, string targetColumn)
    {
        var labels = new int[targetText.Length];
        bool allIntegers = true;
        for (int i = 0; i < targetText.Length && allIntegers; i++)
            allIntegers = int.TryParse(targetText[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out labels[i]) && labels[i] >= 0;
        if (allIntegers)
            return new Dataset(features, [featureCount], labels, labels.Max() + 1, featureNames: featureNames);

        // Text labels: classes in ordinal order (as scikit-learn's LabelEncoder sorts them).
        for (int i = 0; i < targetText.Length; i++)
        {
            if (targetText[i].Length == 0)
                throw new InvalidDataException($"CSV '{sourceName}', line {rows[i + firstData].Line}, column {targetColumn}: the class label is empty.");
        }
        string[] classes = targetText.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int c = 0; c < classes.Length; c++) index[classes[c]] = c;
        for (int i = 0; i < targetText.Length; i++) labels[i] = index[targetText[i]];
        return new Dataset(features, [featureCount], labels, classes.Length, classes, featureNames);
    }

    private static int ResolveTargetColumn(CsvOptions options, string[]? header, int columns, string sourceName)
    {
        if (options.TargetColumnName is string name)
        {
            if (header is null) throw new InvalidDataException($"CSV '{sourceName}' has no header, so target column '{name}' cannot be found by name.");
            int found = Array.IndexOf(header, name);
            if (found < 0) throw new InvalidDataException($"CSV '{sourceName}' has no column named '{name}' (columns: {string.Join(", ", header)}).");
            return found;
        }
        int index = options.TargetColumnIndex < 0 ? columns + options.TargetColumnIndex : options.TargetColumnIndex;
        if ((uint)index >= (uint)columns)
            throw new InvalidDataException($"CSV '{sourceName}' has {columns} columns; target column index {options.TargetColumnIndex} is out of range.");
        return index;
    }

    private static string ColumnName(string[]? header, int column) => header is null ? $"{column + 1}" : $"{column + 1} ('{header[column]}')";

    private static bool IsNumber(string field) => float.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    /// <summary>Splits one line into trimmed fields, honouring double quotes.</summary>
    private static string[] SplitLine(string line, char separator, string sourceName, int lineNumber)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        int i = 0;
        while (true)
        {
            field.Clear();
            while (i < line.Length && line[i] is ' ' or '\t' && line[i] != separator) i++;
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) throw new InvalidDataException($"CSV '{sourceName}', line {lineNumber}: unterminated quoted field.");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    field.Append(line[i++]);
                }
                while (i < line.Length && line[i] != separator)
                {
                    if (!char.IsWhiteSpace(line[i])) throw new InvalidDataException($"CSV '{sourceName}', line {lineNumber}: unexpected text after a quoted field.");
                    i++;
                }
                fields.Add(field.ToString());
            }
            else
            {
                int start = i;
                while (i < line.Length && line[i] != separator) i++;
                fields.Add(line.Substring(start, i - start).Trim());
            }
            if (i >= line.Length) break;
            i++; // skip the separator
        }
        return fields.ToArray();
    }
}
