using System;
using System.Numerics;

namespace Graph.Runtime.Optimizers;

/// <summary>
/// Adagrad (Duchi et al.) as torch.optim.Adagrad. Per element at step t, with accumulator s
/// initialised to <c>initialAccumulatorValue</c>:
/// <code>
/// g ← g + weightDecay·θ                  (if weightDecay ≠ 0)
/// lr_t ← lr / (1 + (t − 1)·lrDecay)
/// s ← s + g²
/// θ ← θ − lr_t · g / (√s + ε)
/// </code>
/// </summary>
public sealed class Adagrad : Optimizer
{
    private float[][] _sums = [];

    /// <summary>Creates the optimizer with torch.optim.Adagrad's defaults.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is negative or not finite.</exception>
    public Adagrad(float learningRate = 0.01f, float learningRateDecay = 0f, float weightDecay = 0f,
        float initialAccumulatorValue = 0f, float epsilon = 1e-10f)
        : base(learningRate)
    {
        Require(learningRateDecay >= 0f && float.IsFinite(learningRateDecay), nameof(learningRateDecay), learningRateDecay, "must be >= 0");
        Require(weightDecay >= 0f && float.IsFinite(weightDecay), nameof(weightDecay), weightDecay, "must be >= 0");
        Require(initialAccumulatorValue >= 0f && float.IsFinite(initialAccumulatorValue), nameof(initialAccumulatorValue), initialAccumulatorValue, "must be >= 0");
        Require(epsilon >= 0f && float.IsFinite(epsilon), nameof(epsilon), epsilon, "must be >= 0");
        LearningRateDecay = learningRateDecay;
        WeightDecay = weightDecay;
        InitialAccumulatorValue = initialAccumulatorValue;
        Epsilon = epsilon;
    }

    /// <inheritdoc/>
    public override string Kind => "adagrad";

    /// <summary>Learning-rate decay η: the effective rate at step t is lr / (1 + (t − 1)η).</summary>
    public float LearningRateDecay { get; }

    /// <summary>L2 penalty added to the gradient.</summary>
    public float WeightDecay { get; }

    /// <summary>Starting value of the squared-gradient accumulator.</summary>
    public float InitialAccumulatorValue { get; }

    /// <summary>ε added to √s.</summary>
    public float Epsilon { get; }

    /// <inheritdoc/>
    protected override void AllocateState(int parameterIndex, int length)
    {
        if (parameterIndex == 0) _sums = new float[ParameterCount][];
        _sums[parameterIndex] = AddState("sum", parameterIndex, length, InitialAccumulatorValue);
    }

    /// <inheritdoc/>
    public override void Update(int parameterIndex, Span<float> parameter, ReadOnlySpan<float> gradient)
    {
        ValidateUpdate(parameterIndex, parameter, gradient);
        float decayedLearningRate = (float)(LearningRate / (1.0 + (StepCount - 1) * (double)LearningRateDecay));
        var kernel = new Kernel(decayedLearningRate, WeightDecay, Epsilon);
        ElementwiseUpdate.Run(kernel, parameter, gradient, _sums[parameterIndex], default, default);
    }

    private readonly struct Kernel(float lr, float weightDecay, float epsilon) : IUpdateKernel
    {
        public void Apply(ref Vector<float> p, Vector<float> g, ref Vector<float> sum, ref Vector<float> unused1, ref Vector<float> unused2)
        {
            if (weightDecay != 0f) g += p * weightDecay;
            sum += g * g;
            p -= g / (Vector.SquareRoot(sum) + new Vector<float>(epsilon)) * lr;
        }
    }
}
