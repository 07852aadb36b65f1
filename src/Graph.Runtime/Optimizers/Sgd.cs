using System;
using System.Numerics;

namespace Graph.Runtime.Optimizers;

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, L2 weight decay and Nesterov
/// momentum: torch.optim.SGD. Per element, with g the gradient and b the momentum buffer:
/// <code>
/// g ← g + weightDecay·θ                          (if weightDecay ≠ 0)
/// b ← g on the first step, else momentum·b + (1 − dampening)·g   (if momentum ≠ 0)
/// g ← g + momentum·b if nesterov, else b        (if momentum ≠ 0)
/// θ ← θ − lr·g
/// </code>
/// The buffer is set to zero once below 2⁻¹⁰⁰ (see <see cref="ElementwiseUpdate.FlushDecayed"/>).
/// </summary>
public sealed class Sgd : Optimizer
{
    private float[][] _momentumBuffers = [];

    /// <summary>Creates the optimizer (PyTorch defaults; lr defaults to 1e-3 as in torch 2.x).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is negative or not finite.</exception>
    /// <exception cref="ArgumentException"><paramref name="nesterov"/> without positive momentum and zero dampening.</exception>
    public Sgd(float learningRate = 1e-3f, float momentum = 0f, float dampening = 0f, float weightDecay = 0f, bool nesterov = false)
        : base(learningRate)
    {
        Require(momentum >= 0f && float.IsFinite(momentum), nameof(momentum), momentum, "must be >= 0");
        Require(float.IsFinite(dampening), nameof(dampening), dampening, "must be finite");
        Require(weightDecay >= 0f && float.IsFinite(weightDecay), nameof(weightDecay), weightDecay, "must be >= 0");
        if (nesterov && (momentum <= 0f || dampening != 0f))
            throw new ArgumentException("Nesterov momentum requires a momentum and zero dampening.", nameof(nesterov));
        Momentum = momentum;
        Dampening = dampening;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
    }

    /// <inheritdoc/>
    public override string Kind => "sgd";

    /// <summary>Momentum factor μ (0 disables the buffer).</summary>
    public float Momentum { get; }

    /// <summary>Dampening τ applied to the gradient when accumulating momentum (not on the first step).</summary>
    public float Dampening { get; }

    /// <summary>L2 penalty λ added to the gradient.</summary>
    public float WeightDecay { get; }

    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override void AllocateState(int parameterIndex, int length)
    {
        if (parameterIndex == 0) _momentumBuffers = new float[ParameterCount][];
        _momentumBuffers[parameterIndex] = Momentum != 0f ? AddState("momentum_buffer", parameterIndex, length) : [];
    }

    /// <inheritdoc/>
    public override void Update(int parameterIndex, Span<float> parameter, ReadOnlySpan<float> gradient)
    {
        ValidateUpdate(parameterIndex, parameter, gradient);
        var kernel = new Kernel(LearningRate, Momentum, (float)(1.0 - Dampening), WeightDecay, Nesterov, firstStep: StepCount == 1);
        ElementwiseUpdate.Run(kernel, parameter, gradient, _momentumBuffers[parameterIndex], default, default);
    }

    private readonly struct Kernel(float lr, float momentum, float oneMinusDampening, float weightDecay, bool nesterov, bool firstStep)
        : IUpdateKernel
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public void Apply(ref Vector<float> p, Vector<float> g, ref Vector<float> buffer, ref Vector<float> unused1, ref Vector<float> unused2)
        {
            if (weightDecay != 0f) g += p * weightDecay;
            if (momentum != 0f)
            {
                // PyTorch: the buffer is a clone of the gradient on the first step (no dampening).
                buffer = firstStep ? g : ElementwiseUpdate.FlushDecayed(buffer * momentum + g * oneMinusDampening);
                g = nesterov ? g + buffer * momentum : buffer;
            }
            p -= g * lr;
        }
    }
}
