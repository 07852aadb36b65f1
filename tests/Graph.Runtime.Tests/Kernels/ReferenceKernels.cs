using System;
using Graph.Runtime.Kernels;

namespace Graph.Runtime.Tests.Kernels;

/// <summary>Naive double-precision loops the kernels are checked against.</summary>
internal static class ReferenceKernels
{
    /// <summary>op(A)·op(B) in double, plus the sum of |terms| per element (for tolerances).</summary>
    public static (double[] Product, double[] Scale) Gemm(Transpose transA, Transpose transB, int m, int n, int k,
        float[] a, int lda, float[] b, int ldb)
    {
        var product = new double[m * n];
        var scale = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, magnitude = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = transA == Transpose.None ? a[i * lda + p] : a[p * lda + i];
                    double bv = transB == Transpose.None ? b[p * ldb + j] : b[j * ldb + p];
                    sum += av * bv;
                    magnitude += Math.Abs(av * bv);
                }
                product[i * n + j] = sum;
                scale[i * n + j] = magnitude;
            }
        return (product, scale);
    }

    /// <summary>Convolution forward for one geometry, in double, with the scale of each output's sum.</summary>
    public static (double[] Output, double[] Scale) ConvForward(Conv2dShape s, int batch, float[] input, float[] weights)
    {
        int oh = s.OutHeight, ow = s.OutWidth;
        var output = new double[batch * s.OutChannels * oh * ow];
        var scale = new double[output.Length];
        for (int n = 0; n < batch; n++)
            for (int o = 0; o < s.OutChannels; o++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                    {
                        double sum = 0, magnitude = 0;
                        for (int c = 0; c < s.Channels; c++)
                            for (int ky = 0; ky < s.KernelH; ky++)
                                for (int kx = 0; kx < s.KernelW; kx++)
                                {
                                    int iy = y * s.StrideH - s.PadH + ky, ix = x * s.StrideW - s.PadW + kx;
                                    if (iy < 0 || iy >= s.Height || ix < 0 || ix >= s.Width) continue;
                                    double term = (double)input[((n * s.Channels + c) * s.Height + iy) * s.Width + ix]
                                        * weights[((o * s.Channels + c) * s.KernelH + ky) * s.KernelW + kx];
                                    sum += term;
                                    magnitude += Math.Abs(term);
                                }
                        int index = ((n * s.OutChannels + o) * oh + y) * ow + x;
                        output[index] = sum;
                        scale[index] = magnitude;
                    }
        return (output, scale);
    }

    /// <summary>Gradient of the convolution with respect to its input, in double.</summary>
    public static (double[] GradInput, double[] Scale) ConvBackwardInput(Conv2dShape s, int batch, float[] gradOutput, float[] weights)
    {
        int oh = s.OutHeight, ow = s.OutWidth;
        var grad = new double[batch * s.Channels * s.Height * s.Width];
        var scale = new double[grad.Length];
        for (int n = 0; n < batch; n++)
            for (int o = 0; o < s.OutChannels; o++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                    {
                        double g = gradOutput[((n * s.OutChannels + o) * oh + y) * ow + x];
                        for (int c = 0; c < s.Channels; c++)
                            for (int ky = 0; ky < s.KernelH; ky++)
                                for (int kx = 0; kx < s.KernelW; kx++)
                                {
                                    int iy = y * s.StrideH - s.PadH + ky, ix = x * s.StrideW - s.PadW + kx;
                                    if (iy < 0 || iy >= s.Height || ix < 0 || ix >= s.Width) continue;
                                    int index = ((n * s.Channels + c) * s.Height + iy) * s.Width + ix;
                                    double term = g * weights[((o * s.Channels + c) * s.KernelH + ky) * s.KernelW + kx];
                                    grad[index] += term;
                                    scale[index] += Math.Abs(term);
                                }
                    }
        return (grad, scale);
    }

    /// <summary>Gradient of the convolution with respect to its weights (summed over the batch), in double.</summary>
    public static (double[] GradWeights, double[] Scale) ConvBackwardFilter(Conv2dShape s, int batch, float[] input, float[] gradOutput)
    {
        int oh = s.OutHeight, ow = s.OutWidth;
        var grad = new double[s.OutChannels * s.Channels * s.KernelH * s.KernelW];
        var scale = new double[grad.Length];
        for (int n = 0; n < batch; n++)
            for (int o = 0; o < s.OutChannels; o++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                    {
                        double g = gradOutput[((n * s.OutChannels + o) * oh + y) * ow + x];
                        for (int c = 0; c < s.Channels; c++)
                            for (int ky = 0; ky < s.KernelH; ky++)
                                for (int kx = 0; kx < s.KernelW; kx++)
                                {
                                    int iy = y * s.StrideH - s.PadH + ky, ix = x * s.StrideW - s.PadW + kx;
                                    if (iy < 0 || iy >= s.Height || ix < 0 || ix >= s.Width) continue;
                                    int index = ((o * s.Channels + c) * s.KernelH + ky) * s.KernelW + kx;
                                    double term = g * input[((n * s.Channels + c) * s.Height + iy) * s.Width + ix];
                                    grad[index] += term;
                                    scale[index] += Math.Abs(term);
                                }
                    }
        return (grad, scale);
    }
}
