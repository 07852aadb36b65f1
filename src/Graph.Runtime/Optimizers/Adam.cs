using System;
using System.Numerics;

namespace Graph.Runtime.Optimizers;

/// <summary>
/// Adam (Kingma and Ba) as torch.optim.Adam, with L2 weight decay added to the gradient and the
/// optional AMSGrad variant. Per element at step t:
/// <code>
/// g ← g + weightDecay·θ                                  (if weightDecay ≠ 0)
/// m ← m + (1 − β1)(g − m)                                (torch lerp_)
/// v ← β2·v + (1 − β2)·g²
/// v̂ ← max(v̂, v) and use v̂ instead of v                   (if amsgrad)
/// denom ← √v / √(1 − β2^t) + ε
/// θ ← θ − lr/(1 − β1^t) · m / denom
/// </code>
/// m and v are set to zero once below 2⁻¹⁰⁰ (see <see cref="ElementwiseUpdate.FlushDecayed"/>).
/// The bias corrections are computed in double (PyTorch computes them as Python floats) and
/// rounded once to float.
/// </summary>
public class Adam : Optimizer
{
    private float[][] _firstMoments = [];
    private float[][] _secondMoments = [];
    private float[][] _maxSecondMoments = [];

    /// <summary>Creates the optimizer with torch.optim.Adam's defaults.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is outside PyTorch's valid range.</exception>
    public Adam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f,
        float weightDecay = 0f, bool amsgrad = false)
        : this(learningRate, beta1, beta2, epsilon, weightDecay, amsgrad, decoupledWeightDecay: false)
    {
    }

    /// <summary>Shared constructor for <see cref="Adam"/> and <see cref="AdamW"/>.</summary>
    private protected Adam(float learningRate, float beta1, float beta2, float epsilon, float weightDecay, bool amsgrad, bool decoupledWeightDecay)
        : base(learningRate)
    {
        Require(beta1 >= 0f && beta1 < 1f, nameof(beta1), beta1, "must be in [0, 1)");
        Require(beta2 >= 0f && beta2 < 1f, nameof(beta2), beta2, "must be in [0, 1)");
        Require(epsilon >= 0f && float.IsFinite(epsilon), nameof(epsilon), epsilon, "must be >= 0");
        Require(weightDecay >= 0f && float.IsFinite(weightDecay), nameof(weightDecay), weightDecay, "must be >= 0");
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        AmsGrad = amsgrad;
        DecoupledWeightDecay = decoupledWeightDecay;
    }

    /// <inheritdoc/>
    public override string Kind => "adam";

    /// <summary>Decay rate β1 of the first-moment (mean) estimate.</summary>
    public float Beta1 { get; }

    /// <summary>Decay rate β2 of the second-moment (uncentered variance) estimate.</summary>
    public float Beta2 { get; }

    /// <summary>ε added to the bias-corrected square root of the second moment.</summary>
    public float Epsilon { get; }

    /// <summary>Weight-decay coefficient: an L2 term in the gradient for Adam, decoupled for AdamW.</summary>
    public float WeightDecay { get; }

    /// <summary>Whether the running maximum of the second moment is used (AMSGrad).</summary>
    public bool AmsGrad { get; }

    /// <summary>True for AdamW: θ ← θ·(1 − lr·weightDecay) before the Adam step instead of adding λθ to g.</summary>
    public bool DecoupledWeightDecay { get; }

    /// <inheritdoc/>
    protected override void AllocateState(int parameterIndex, int length)
    {
        if (parameterIndex == 0)
        {
            _firstMoments = new float[ParameterCount][];
            _secondMoments = new float[ParameterCount][];
            _maxSecondMoments = new float[ParameterCount][];
        }
        _firstMoments[parameterIndex] = AddState("m", parameterIndex, length);
        _secondMoments[parameterIndex] = AddState("v", parameterIndex, length);
        _maxSecondMoments[parameterIndex] = AmsGrad ? AddState("v_max", parameterIndex, length) : [];
    }

    /// <inheritdoc/>
    public override void Update(int parameterIndex, Span<float> parameter, ReadOnlySpan<float> gradient)
    {
        ValidateUpdate(parameterIndex, parameter, gradient);
        double step = StepCount;
        double biasCorrection1 = 1.0 - Math.Pow(Beta1, step);
        double biasCorrection2 = 1.0 - Math.Pow(Beta2, step);
        var kernel = new Kernel(
            stepSize: (float)(LearningRate / biasCorrection1),
            biasCorrection2Sqrt: (float)Math.Sqrt(biasCorrection2),
            oneMinusBeta1: (float)(1.0 - Beta1),
            beta2: Beta2,
            oneMinusBeta2: (float)(1.0 - Beta2),
            epsilon: Epsilon,
            l2: DecoupledWeightDecay ? 0f : WeightDecay,
            decayFactor: DecoupledWeightDecay ? (float)(1.0 - (double)LearningRate * WeightDecay) : 1f,
            amsgrad: AmsGrad);
        ElementwiseUpdate.Run(kernel, parameter, gradient,
            _firstMoments[parameterIndex], _secondMoments[parameterIndex], _maxSecondMoments[parameterIndex]);
    }

    private readonly struct Kernel(float stepSize, float biasCorrection2Sqrt, float oneMinusBeta1, float beta2,
        float oneMinusBeta2, float epsilon, float l2, float decayFactor, bool amsgrad) : IUpdateKernel
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public void Apply(ref Vector<float> p, Vector<float> g, ref Vector<float> m, ref Vector<float> v, ref Vector<float> vMax)
        {
            if (decayFactor != 1f) p *= decayFactor;
            if (l2 != 0f) g += p * l2;
            m = ElementwiseUpdate.FlushDecayed(m + (g - m) * oneMinusBeta1);
            v = ElementwiseUpdate.FlushDecayed(v * beta2 + g * g * oneMinusBeta2);
            Vector<float> secondMoment = v;
            if (amsgrad)
            {
                vMax = Vector.Max(vMax, v);
                secondMoment = vMax;
            }
            Vector<float> denominator = Vector.SquareRoot(secondMoment) / biasCorrection2Sqrt + new Vector<float>(epsilon);
            p -= m / denominator * stepSize;
        }
    }
}

/// <summary>
/// AdamW (Loshchilov and Hutter) as torch.optim.AdamW: Adam whose weight decay is decoupled from
/// the gradient, θ ← θ·(1 − lr·weightDecay), applied before the Adam step. Default weightDecay 0.01.
/// </summary>
public sealed class AdamW : Adam
{
    /// <summary>Creates the optimizer with torch.optim.AdamW's defaults.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is outside PyTorch's valid range.</exception>
    public AdamW(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f,
        float weightDecay = 0.01f, bool amsgrad = false)
        : base(learningRate, beta1, beta2, epsilon, weightDecay, amsgrad, decoupledWeightDecay: true)
    {
    }

    /// <inheritdoc/>
    public override string Kind => "adamw";
}
