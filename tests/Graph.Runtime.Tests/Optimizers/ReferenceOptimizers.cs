using System;

namespace Graph.Runtime.Tests.Optimizers;

/// <summary>
/// Double-precision transcriptions of the pseudo-code in the torch.optim documentation
/// (https://pytorch.org/docs/stable/optim.html, algorithm boxes of SGD, Adagrad, RMSprop, Adam,
/// AdamW), one parameter tensor, written independently of the float implementations under test.
/// </summary>
public interface IReferenceOptimizer
{
    void Step(double[] theta, double[] g);
}

internal sealed class ReferenceSgd(double lr, double momentum, double dampening, double weightDecay, bool nesterov) : IReferenceOptimizer
{
    private double[]? _b;
    private int _t;

    public void Step(double[] theta, double[] grad)
    {
        _t++;
        _b ??= new double[theta.Length];
        for (int i = 0; i < theta.Length; i++)
        {
            double g = grad[i];
            if (weightDecay != 0) g += weightDecay * theta[i];
            if (momentum != 0)
            {
                _b[i] = _t > 1 ? momentum * _b[i] + (1 - dampening) * g : g;
                g = nesterov ? g + momentum * _b[i] : _b[i];
            }
            theta[i] -= lr * g;
        }
    }
}

internal sealed class ReferenceAdagrad(double lr, double lrDecay, double weightDecay, double initialAccumulator, double eps) : IReferenceOptimizer
{
    private double[]? _sum;
    private int _t;

    public void Step(double[] theta, double[] grad)
    {
        _t++;
        if (_sum is null)
        {
            _sum = new double[theta.Length];
            Array.Fill(_sum, initialAccumulator);
        }
        double clr = lr / (1 + (_t - 1) * lrDecay);
        for (int i = 0; i < theta.Length; i++)
        {
            double g = grad[i];
            if (weightDecay != 0) g += weightDecay * theta[i];
            _sum[i] += g * g;
            theta[i] -= clr * g / (Math.Sqrt(_sum[i]) + eps);
        }
    }
}

internal sealed class ReferenceRmsProp(double lr, double alpha, double eps, double weightDecay, double momentum, bool centered) : IReferenceOptimizer
{
    private double[]? _v, _gAve, _b;

    public void Step(double[] theta, double[] grad)
    {
        _v ??= new double[theta.Length];
        _gAve ??= new double[theta.Length];
        _b ??= new double[theta.Length];
        for (int i = 0; i < theta.Length; i++)
        {
            double g = grad[i];
            if (weightDecay != 0) g += weightDecay * theta[i];
            _v[i] = alpha * _v[i] + (1 - alpha) * g * g;
            double vTilde = _v[i];
            if (centered)
            {
                _gAve[i] = alpha * _gAve[i] + (1 - alpha) * g;
                vTilde -= _gAve[i] * _gAve[i];
            }
            double denom = Math.Sqrt(vTilde) + eps;
            if (momentum > 0)
            {
                _b[i] = momentum * _b[i] + g / denom;
                theta[i] -= lr * _b[i];
            }
            else
            {
                theta[i] -= lr * g / denom;
            }
        }
    }
}

/// <summary>Adam and AdamW; PyTorch's implementation form: denom = √v̂/√(1−β2^t) + ε, step = lr/(1−β1^t).</summary>
internal sealed class ReferenceAdam(double lr, double beta1, double beta2, double eps, double weightDecay, bool amsgrad, bool decoupled) : IReferenceOptimizer
{
    private double[]? _m, _v, _vMax;
    private int _t;

    public void Step(double[] theta, double[] grad)
    {
        _t++;
        _m ??= new double[theta.Length];
        _v ??= new double[theta.Length];
        _vMax ??= new double[theta.Length];
        double bc1 = 1 - Math.Pow(beta1, _t), bc2 = 1 - Math.Pow(beta2, _t);
        for (int i = 0; i < theta.Length; i++)
        {
            double g = grad[i];
            if (decoupled) theta[i] *= 1 - lr * weightDecay;
            else if (weightDecay != 0) g += weightDecay * theta[i];
            _m[i] = beta1 * _m[i] + (1 - beta1) * g;
            _v[i] = beta2 * _v[i] + (1 - beta2) * g * g;
            double second = _v[i];
            if (amsgrad)
            {
                _vMax[i] = Math.Max(_vMax[i], _v[i]);
                second = _vMax[i];
            }
            double denom = Math.Sqrt(second) / Math.Sqrt(bc2) + eps;
            theta[i] -= lr / bc1 * _m[i] / denom;
        }
    }
}
