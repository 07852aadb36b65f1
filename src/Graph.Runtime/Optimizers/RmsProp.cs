using System;
using System.Numerics;

namespace Graph.Runtime.Optimizers;

/// <summary>
/// RMSprop (Hinton) as torch.optim.RMSprop, with optional centering, momentum and L2 weight decay.
/// Per element, with square average s, gradient average a (centered) and momentum buffer b:
/// <code>
/// g ← g + weightDecay·θ                       (if weightDecay ≠ 0)
/// s ← α·s + (1 − α)·g²
/// a ← a + (1 − α)(g − a); d ← √(s − a²) + ε    (centered)
/// d ← √s + ε                                  (not centered)
/// b ← μ·b + g/d; θ ← θ − lr·b                 (if momentum &gt; 0)
/// θ ← θ − lr·g/d                              (otherwise)
/// </code>
/// b, and s when not centered, are set to zero once below 2⁻¹⁰⁰ (see <see cref="ElementwiseUpdate.FlushDecayed"/>).
/// </summary>
public sealed class RmsProp : Optimizer
{
    private float[][] _squareAverages = [];
    private float[][] _gradientAverages = [];
    private float[][] _momentumBuffers = [];

    /// <summary>Creates the optimizer with torch.optim.RMSprop's defaults.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is negative or not finite.</exception>
    public RmsProp(float learningRate = 0.01f, float alpha = 0.99f, float epsilon = 1e-8f, float weightDecay = 0f,
        float momentum = 0f, bool centered = false)
        : base(learningRate)
    {
        Require(alpha >= 0f && float.IsFinite(alpha), nameof(alpha), alpha, "must be >= 0");
        Require(epsilon >= 0f && float.IsFinite(epsilon), nameof(epsilon), epsilon, "must be >= 0");
        Require(weightDecay >= 0f && float.IsFinite(weightDecay), nameof(weightDecay), weightDecay, "must be >= 0");
        Require(momentum >= 0f && float.IsFinite(momentum), nameof(momentum), momentum, "must be >= 0");
        Alpha = alpha;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        Momentum = momentum;
        Centered = centered;
    }

    /// <inheritdoc/>
    public override string Kind => "rmsprop";

    /// <summary>Smoothing constant α of the running averages.</summary>
    public float Alpha { get; }

    /// <summary>ε added to the root of the (centered) square average.</summary>
    public float Epsilon { get; }

    /// <summary>L2 penalty added to the gradient.</summary>
    public float WeightDecay { get; }

    /// <summary>Momentum factor μ (0 disables the buffer).</summary>
    public float Momentum { get; }

    /// <summary>Whether the gradient's running mean is subtracted (variance estimate instead of second moment).</summary>
    public bool Centered { get; }

    /// <inheritdoc/>
    protected override void AllocateState(int parameterIndex, int length)
    {
        if (parameterIndex == 0)
        {
            _squareAverages = new float[ParameterCount][];
            _gradientAverages = new float[ParameterCount][];
            _momentumBuffers = new float[ParameterCount][];
        }
        _squareAverages[parameterIndex] = AddState("square_avg", parameterIndex, length);
        _momentumBuffers[parameterIndex] = Momentum > 0f ? AddState("momentum_buffer", parameterIndex, length) : [];
        _gradientAverages[parameterIndex] = Centered ? AddState("grad_avg", parameterIndex, length) : [];
    }

    /// <inheritdoc/>
    public override void Update(int parameterIndex, Span<float> parameter, ReadOnlySpan<float> gradient)
    {
        ValidateUpdate(parameterIndex, parameter, gradient);
        var kernel = new Kernel(LearningRate, Alpha, (float)(1.0 - Alpha), Epsilon, WeightDecay, Momentum, Centered);
        ElementwiseUpdate.Run(kernel, parameter, gradient,
            _squareAverages[parameterIndex], _gradientAverages[parameterIndex], _momentumBuffers[parameterIndex]);
    }

    private readonly struct Kernel(float lr, float alpha, float oneMinusAlpha, float epsilon, float weightDecay, float momentum, bool centered)
        : IUpdateKernel
    {
        public void Apply(ref Vector<float> p, Vector<float> g, ref Vector<float> squareAverage, ref Vector<float> gradientAverage, ref Vector<float> buffer)
        {
            if (weightDecay != 0f) g += p * weightDecay;
            Vector<float> root;
            if (centered)
            {
                // Not flushed: s − a² must not go negative, and a is still far above the floor where s falls below it.
                squareAverage = squareAverage * alpha + g * g * oneMinusAlpha;
                gradientAverage += (g - gradientAverage) * oneMinusAlpha;
                root = Vector.SquareRoot(squareAverage - gradientAverage * gradientAverage);
            }
            else
            {
                squareAverage = ElementwiseUpdate.FlushDecayed(squareAverage * alpha + g * g * oneMinusAlpha);
                root = Vector.SquareRoot(squareAverage);
            }
            Vector<float> denominator = root + new Vector<float>(epsilon);
            if (momentum > 0f)
            {
                buffer = ElementwiseUpdate.FlushDecayed(buffer * momentum + g / denominator);
                p -= buffer * lr;
            }
            else
            {
                p -= g / denominator * lr;
            }
        }
    }
}
