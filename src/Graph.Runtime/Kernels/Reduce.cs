using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Graph.Runtime.Kernels;

/// <summary>
/// Vectorized reductions over a dense row-major rows×cols matrix. Each result is summed in a fixed order that
/// depends only on the sizes (never on addresses or threads), so results are reproducible bit for bit.
/// </summary>
public static unsafe class Reduce
{
    private enum RowReduction { Sum, Max, LogSumExp }

    /// <summary><c>output[r] = Σ_c input[r, c]</c>.</summary>
    public static void SumRows(ReadOnlySpan<float> input, int rows, int cols, Span<float> output) =>
        Rows(RowReduction.Sum, input, rows, cols, output);

    /// <summary><c>output[r] = max_c input[r, c]</c> (NaN if the row holds one; −∞ for an empty row).</summary>
    public static void MaxRows(ReadOnlySpan<float> input, int rows, int cols, Span<float> output) =>
        Rows(RowReduction.Max, input, rows, cols, output);

    /// <summary>
    /// <c>output[r] = log Σ_c exp(input[r, c])</c>, computed as <c>m + log Σ exp(x − m)</c> with m the row maximum
    /// so it cannot overflow (softmax and cross-entropy). A row of −∞ gives −∞.
    /// </summary>
    public static void LogSumExpRows(ReadOnlySpan<float> input, int rows, int cols, Span<float> output) =>
        Rows(RowReduction.LogSumExp, input, rows, cols, output);

    /// <summary>
    /// <c>output[c] = Σ_r input[r, c]</c>, or <c>output[c] += …</c> when <paramref name="accumulate"/> (e.g. a bias
    /// gradient summed over the batch). Rows are added in order.
    /// </summary>
    public static void SumColumns(ReadOnlySpan<float> input, int rows, int cols, Span<float> output, bool accumulate)
    {
        CheckMatrix(input.Length, rows, cols, output.Length, cols);
        fixed (float* source = input)
        fixed (float* destination = output)
        {
            switch (KernelIsaSelector.Current)
            {
                case KernelIsa.Avx512: SumColumns<Simd512, Vector512<float>>(source, rows, cols, destination, accumulate); break;
                case KernelIsa.Avx2: SumColumns<Simd256, Vector256<float>>(source, rows, cols, destination, accumulate); break;
                case KernelIsa.Vector: SumColumns<SimdPortable, Vector<float>>(source, rows, cols, destination, accumulate); break;
                default: SumColumns<SimdScalar, float>(source, rows, cols, destination, accumulate); break;
            }
        }
    }

    private static void Rows(RowReduction reduction, ReadOnlySpan<float> input, int rows, int cols, Span<float> output)
    {
        CheckMatrix(input.Length, rows, cols, output.Length, rows);
        fixed (float* source = input)
        fixed (float* destination = output)
        {
            switch (KernelIsaSelector.Current)
            {
                case KernelIsa.Avx512: Rows<Simd512, Vector512<float>>(reduction, source, rows, cols, destination); break;
                case KernelIsa.Avx2: Rows<Simd256, Vector256<float>>(reduction, source, rows, cols, destination); break;
                case KernelIsa.Vector: Rows<SimdPortable, Vector<float>>(reduction, source, rows, cols, destination); break;
                default: Rows<SimdScalar, float>(reduction, source, rows, cols, destination); break;
            }
        }
    }

    private static void CheckMatrix(int inputLength, int rows, int cols, int outputLength, int outputNeeded)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        if (inputLength < (long)rows * cols) throw new ArgumentException($"Needs {(long)rows * cols} input floats, got {inputLength}.", "input");
        if (outputLength < outputNeeded) throw new ArgumentException($"Needs {outputNeeded} output floats, got {outputLength}.", "output");
    }

    private static void Rows<TSimd, TVector>(RowReduction reduction, float* input, int rows, int cols, float* output)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        for (int r = 0; r < rows; r++)
        {
            float* row = input + (nint)r * cols;
            output[r] = reduction switch
            {
                RowReduction.Sum => Sum<TSimd, TVector>(row, cols),
                RowReduction.Max => Max<TSimd, TVector>(row, cols),
                _ => LogSumExp<TSimd, TVector>(row, cols),
            };
        }
    }

    private static float Sum<TSimd, TVector>(float* values, int count) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        // Four accumulators keep four additions in flight.
        int width = TSimd.Count, i = 0;
        TVector sum0 = TSimd.Zero, sum1 = TSimd.Zero, sum2 = TSimd.Zero, sum3 = TSimd.Zero;
        for (; i <= count - 4 * width; i += 4 * width)
        {
            sum0 = TSimd.Add(sum0, TSimd.Load(values + i));
            sum1 = TSimd.Add(sum1, TSimd.Load(values + i + width));
            sum2 = TSimd.Add(sum2, TSimd.Load(values + i + 2 * width));
            sum3 = TSimd.Add(sum3, TSimd.Load(values + i + 3 * width));
        }
        for (; i <= count - width; i += width) sum0 = TSimd.Add(sum0, TSimd.Load(values + i));
        float total = TSimd.Sum(TSimd.Add(TSimd.Add(sum0, sum1), TSimd.Add(sum2, sum3)));
        for (; i < count; i++) total += values[i];
        return total;
    }

    private static float Max<TSimd, TVector>(float* values, int count) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        int width = TSimd.Count, i = 0;
        float max = float.NegativeInfinity;
        if (count >= width)
        {
            TVector maxima = TSimd.Load(values);
            for (i = width; i <= count - width; i += width) maxima = TSimd.Max(maxima, TSimd.Load(values + i));
            max = TSimd.MaxAcross(maxima);
        }
        for (; i < count; i++) max = MathF.Max(max, values[i]);
        return max;
    }

    private static float LogSumExp<TSimd, TVector>(float* values, int count) where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        float max = Max<TSimd, TVector>(values, count);
        // All −∞ (or empty): the sum of exponentials is 0. ±∞ or NaN maxima are their own answer.
        if (!float.IsFinite(max)) return max;
        int width = TSimd.Count, i = 0;
        TVector shift = TSimd.Broadcast(-max), sum = TSimd.Zero;
        for (; i <= count - width; i += width) sum = TSimd.Add(sum, TSimd.Exp(TSimd.Add(TSimd.Load(values + i), shift)));
        float total = TSimd.Sum(sum);
        for (; i < count; i++) total += MathF.Exp(values[i] - max);
        return max + MathF.Log(total);
    }

    private static void SumColumns<TSimd, TVector>(float* input, int rows, int cols, float* output, bool accumulate)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        if (!accumulate) new Span<float>(output, cols).Clear();
        for (int r = 0; r < rows; r++)
        {
            float* row = input + (nint)r * cols;
            int c = 0;
            for (; c <= cols - TSimd.Count; c += TSimd.Count)
                TSimd.Store(TSimd.Add(TSimd.Load(output + c), TSimd.Load(row + c)), output + c);
            for (; c < cols; c++) output[c] += row[c];
        }
    }
}
