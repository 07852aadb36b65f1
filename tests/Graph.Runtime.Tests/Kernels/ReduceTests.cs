using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Runtime.Kernels;
using static Graph.Runtime.Tests.Kernels.KernelTestData;

namespace Graph.Runtime.Tests.Kernels;

public class ReduceTests
{
    private static readonly (int Rows, int Cols)[] Sizes = [(1, 1), (3, 17), (5, 129), (2, 64), (4, 0), (0, 5)];

    public static IEnumerable<object[]> Isas() => SupportedIsas();

    [Theory]
    [MemberData(nameof(Isas))]
    public void RowReductionsMatchReference(KernelIsa isa)
    {
        foreach (var (rows, cols) in Sizes)
        {
            float[] input = Random(rows * cols, rows * 31 + cols, scale: 10);
            float[] sums = new float[rows], maxima = new float[rows], logSumExps = new float[rows];
            WithIsa(isa, () =>
            {
                Reduce.SumRows(input, rows, cols, sums);
                Reduce.MaxRows(input, rows, cols, maxima);
                Reduce.LogSumExpRows(input, rows, cols, logSumExps);
            });
            for (int r = 0; r < rows; r++)
            {
                var row = input.Skip(r * cols).Take(cols).Select(v => (double)v).ToArray();
                AssertClose(row.Sum(), row.Sum(Math.Abs) + 1, sums[r], $"{isa} sum {rows}x{cols} row {r}");
                Assert.Equal(cols == 0 ? float.NegativeInfinity : (float)row.Max(), maxima[r]);
                double max = cols == 0 ? double.NegativeInfinity : row.Max();
                double logSumExp = cols == 0 ? double.NegativeInfinity : max + Math.Log(row.Sum(v => Math.Exp(v - max)));
                if (cols == 0) Assert.Equal(float.NegativeInfinity, logSumExps[r]);
                else AssertClose(logSumExp, Math.Abs(logSumExp) + 1, logSumExps[r], $"{isa} logsumexp {rows}x{cols} row {r}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void SumColumnsOverwritesOrAccumulates(KernelIsa isa)
    {
        foreach (var (rows, cols) in Sizes)
        {
            float[] input = Random(rows * cols, rows + cols);
            float[] previous = Random(cols, 99);
            float[] overwritten = (float[])previous.Clone(), accumulated = (float[])previous.Clone();
            WithIsa(isa, () =>
            {
                Reduce.SumColumns(input, rows, cols, overwritten, accumulate: false);
                Reduce.SumColumns(input, rows, cols, accumulated, accumulate: true);
            });
            for (int c = 0; c < cols; c++)
            {
                double sum = 0, scale = 1;
                for (int r = 0; r < rows; r++) { sum += input[r * cols + c]; scale += Math.Abs(input[r * cols + c]); }
                AssertClose(sum, scale, overwritten[c], $"{isa} {rows}x{cols} column {c}");
                AssertClose(sum + previous[c], scale + 1, accumulated[c], $"{isa} {rows}x{cols} accumulated column {c}");
            }
        }
    }

    [Fact]
    public void LogSumExpIsStableForLargeValuesAndPropagatesSpecialValues()
    {
        float[] input = [1000f, 1000f, float.NegativeInfinity, float.NegativeInfinity, float.NaN, 1f];
        var output = new float[3];
        Reduce.LogSumExpRows(input, 3, 2, output);
        Assert.Equal(1000f + MathF.Log(2f), output[0], 3);
        Assert.Equal(float.NegativeInfinity, output[1]);
        Assert.True(float.IsNaN(output[2]));
    }
}
