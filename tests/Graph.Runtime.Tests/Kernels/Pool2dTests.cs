using System;
using System.Collections.Generic;
using Graph.Runtime.Kernels;
using static Graph.Runtime.Tests.Kernels.KernelTestData;

namespace Graph.Runtime.Tests.Kernels;

public class Pool2dTests
{
    private static readonly Pool2dShape[] Shapes =
    [
        new(3, 8, 8, 2, 2, 2, 2),         // the common 2×2/2
        new(2, 9, 11, 3, 3, 2, 2, 1, 1),  // stride != kernel, overlapping windows, padding
        new(1, 7, 19, 3, 2, 1, 1, 1, 0),  // stride 1, non-square window
        new(2, 5, 37, 2, 3, 3, 1, 0, 1),  // stride > kernel vertically, wide rows (vector bodies and tails)
        new(2, 7, 11, 2, 2, 2, 2),        // 2×2/2 with an uncovered last row and column, 5 windows a row (overlapping vector steps)
        new(1, 6, 30, 2, 2, 2, 2),        // 2×2/2, 15 windows a row
        new(16, 10, 10, 2, 2, 2, 2),      // LeNet-5's second pooling: even heights, so each thread's planes are one tall plane
        new(3, 6, 9, 2, 2, 2, 2),         // a tall plane with an uncovered last column
    ];

    public static IEnumerable<object[]> Cases()
    {
        foreach (object[] isa in SupportedIsas())
            for (int i = 0; i < Shapes.Length; i++) yield return [isa[0], i];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MaxForwardAndBackwardMatchReference(KernelIsa isa, int shapeIndex)
    {
        Pool2dShape s = Shapes[shapeIndex];
        const int batch = 2;
        float[] input = Random(batch * s.InputImageLength, shapeIndex);
        // Ties: the first maximum in row-major window order must get the gradient.
        for (int i = 0; i < input.Length; i += 7) input[i] = 0.5f;
        float[] gradOutput = Random(batch * s.OutputImageLength, shapeIndex + 100);
        var output = new float[gradOutput.Length];
        float[] gradInput = Random(input.Length, 3); // stale contents must be overwritten

        WithIsa(isa, () =>
        {
            Pool2d.MaxForward(s, batch, input, output);
            Pool2d.MaxBackward(s, batch, input, gradOutput, gradInput);
        });

        var expectedGrad = new double[input.Length];
        ForEachWindow(s, batch, (outIndex, window) =>
        {
            int best = window[0];
            foreach (int i in window) if (input[i] > input[best]) best = i;
            Assert.Equal(input[best], output[outIndex]);
            expectedGrad[best] += gradOutput[outIndex];
        });
        for (int i = 0; i < input.Length; i++) AssertClose(expectedGrad[i], 4, gradInput[i], $"{isa} {s} gradInput {i}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AvgForwardAndBackwardMatchReferenceCountingPadding(KernelIsa isa, int shapeIndex)
    {
        Pool2dShape s = Shapes[shapeIndex];
        const int batch = 2;
        float[] input = Random(batch * s.InputImageLength, shapeIndex + 200);
        float[] gradOutput = Random(batch * s.OutputImageLength, shapeIndex + 300);
        var output = new float[gradOutput.Length];
        float[] gradInput = Random(input.Length, 4);

        WithIsa(isa, () =>
        {
            Pool2d.AvgForward(s, batch, input, output);
            Pool2d.AvgBackward(s, batch, gradOutput, gradInput);
        });

        double divisor = s.KernelH * s.KernelW;
        var expectedGrad = new double[input.Length];
        ForEachWindow(s, batch, (outIndex, window) =>
        {
            double sum = 0;
            foreach (int i in window)
            {
                sum += input[i];
                expectedGrad[i] += gradOutput[outIndex] / divisor;
            }
            AssertClose(sum / divisor, 1, output[outIndex], $"{isa} {s} output {outIndex}");
        });
        for (int i = 0; i < input.Length; i++) AssertClose(expectedGrad[i], 4, gradInput[i], $"{isa} {s} gradInput {i}");
    }

    [Fact]
    public void MaxPropagatesNaNAndRoutesItsGradientToTheNaN()
    {
        var s = new Pool2dShape(1, 2, 2, 2, 2, 2, 2);
        float[] input = [1f, float.NaN, 3f, 2f];
        var output = new float[1];
        var gradInput = new float[4];
        Pool2d.MaxForward(s, 1, input, output);
        Pool2d.MaxBackward(s, 1, input, [1f], gradInput);
        Assert.True(float.IsNaN(output[0]));
        Assert.Equal([0f, 1f, 0f, 0f], gradInput);
    }

    [Fact]
    public void MaxBackwardRoutesNaNsInWholeRowsOfWindowsLikeTheSequentialRule()
    {
        // 2×2/2 windows, 4 a row (the vectorized path): a NaN takes over from anything before it, a later NaN from it.
        var s = new Pool2dShape(1, 2, 8, 2, 2, 2, 2);
        float n = float.NaN;
        float[] input =
        [
            1f, n, 5f, 5f, n, n, float.NegativeInfinity, float.NegativeInfinity,
            3f, 2f, 5f, 4f, 1f, 2f, float.NegativeInfinity, float.NegativeInfinity,
        ];
        var gradInput = new float[16];
        Pool2d.MaxBackward(s, 1, input, [1f, 2f, 3f, 4f], gradInput);
        Assert.Equal([0f, 1f, 2f, 0f, 0f, 3f, 4f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f], gradInput);
    }

    [Fact]
    public void RejectsPaddingLargerThanHalfTheWindow() =>
        Assert.Throws<ArgumentException>(() => Pool2d.MaxForward(new Pool2dShape(1, 4, 4, 2, 2, 2, 2, 2, 0), 1, new float[16], new float[16]));

    /// <summary>Calls back with each output's flat index and its window's input indices (padding excluded), row-major.</summary>
    private static void ForEachWindow(Pool2dShape s, int batch, Action<int, List<int>> visit)
    {
        var window = new List<int>();
        for (int plane = 0; plane < batch * s.Channels; plane++)
            for (int oy = 0; oy < s.OutHeight; oy++)
                for (int ox = 0; ox < s.OutWidth; ox++)
                {
                    window.Clear();
                    for (int ky = 0; ky < s.KernelH; ky++)
                        for (int kx = 0; kx < s.KernelW; kx++)
                        {
                            int iy = oy * s.StrideH - s.PadH + ky, ix = ox * s.StrideW - s.PadW + kx;
                            if (iy >= 0 && iy < s.Height && ix >= 0 && ix < s.Width)
                                window.Add((plane * s.Height + iy) * s.Width + ix);
                        }
                    visit((plane * s.OutHeight + oy) * s.OutWidth + ox, window);
                }
    }
}
