using System;
using Graph.Runtime.Optimizers;

namespace Graph.Runtime.Schedules;

/// <summary>
/// A learning rate as a pure function of the step (or epoch) index, in closed form, so resuming
/// from a checkpoint only needs the index. Index 0 is the value before any scheduler step, i.e.
/// PyTorch's <c>last_epoch</c> after <c>t</c> calls of <c>scheduler.step()</c> gives LearningRate(t).
/// </summary>
public interface ILearningRateSchedule
{
    /// <summary>Learning rate at step (or epoch) <paramref name="step"/> ≥ 0.</summary>
    float LearningRate(int step);
}

/// <summary>Helpers for using schedules with optimizers.</summary>
public static class LearningRateScheduleExtensions
{
    /// <summary>Sets <paramref name="optimizer"/>'s learning rate to the schedule's value at <paramref name="step"/>.</summary>
    public static void ApplyTo(this ILearningRateSchedule schedule, Optimizer optimizer, int step)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(optimizer);
        optimizer.LearningRate = schedule.LearningRate(step);
    }

    internal static void CheckStep(int step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "The schedule step must be >= 0.");
    }

    internal static void CheckBase(float baseLearningRate)
    {
        if (!(baseLearningRate >= 0f) || float.IsInfinity(baseLearningRate))
            throw new ArgumentOutOfRangeException(nameof(baseLearningRate), baseLearningRate, "The base learning rate must be finite and >= 0.");
    }
}

/// <summary>Constant learning rate (no schedule).</summary>
public sealed class ConstantLR(float learningRate) : ILearningRateSchedule
{
    /// <inheritdoc/>
    public float LearningRate(int step)
    {
        LearningRateScheduleExtensions.CheckStep(step);
        return learningRate;
    }
}

/// <summary>torch.optim.lr_scheduler.StepLR: lr = base · γ^⌊t / stepSize⌋.</summary>
public sealed class StepLR : ILearningRateSchedule
{
    private readonly float _base;
    private readonly int _stepSize;
    private readonly double _gamma;

    /// <summary>Decays by <paramref name="gamma"/> every <paramref name="stepSize"/> steps.</summary>
    public StepLR(float baseLearningRate, int stepSize, float gamma = 0.1f)
    {
        LearningRateScheduleExtensions.CheckBase(baseLearningRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepSize);
        _base = baseLearningRate;
        _stepSize = stepSize;
        _gamma = gamma;
    }

    /// <inheritdoc/>
    public float LearningRate(int step)
    {
        LearningRateScheduleExtensions.CheckStep(step);
        return (float)(_base * Math.Pow(_gamma, step / _stepSize));
    }
}

/// <summary>
/// torch.optim.lr_scheduler.MultiStepLR: lr = base · γ^(number of milestones ≤ t). A milestone
/// listed k times counts k times, as in PyTorch (which keeps a Counter of milestones).
/// </summary>
public sealed class MultiStepLR : ILearningRateSchedule
{
    private readonly float _base;
    private readonly int[] _milestones;
    private readonly double _gamma;

    /// <summary>Multiplies by <paramref name="gamma"/> at each milestone.</summary>
    public MultiStepLR(float baseLearningRate, ReadOnlySpan<int> milestones, float gamma = 0.1f)
    {
        LearningRateScheduleExtensions.CheckBase(baseLearningRate);
        _base = baseLearningRate;
        _milestones = milestones.ToArray();
        Array.Sort(_milestones);
        _gamma = gamma;
    }

    /// <inheritdoc/>
    public float LearningRate(int step)
    {
        LearningRateScheduleExtensions.CheckStep(step);
        int passed = 0;
        while (passed < _milestones.Length && _milestones[passed] <= step) passed++;
        return (float)(_base * Math.Pow(_gamma, passed));
    }
}

/// <summary>
/// Piecewise-constant learning rate: values[i] holds from boundaries[i−1] (inclusive) to
/// boundaries[i] (exclusive), i.e. lr(t) = values[number of boundaries ≤ t]. PyTorch has no such
/// scheduler; note that TensorFlow's PiecewiseConstantDecay switches one step later (at t &gt; boundary).
/// </summary>
public sealed class PiecewiseConstantLR : ILearningRateSchedule
{
    private readonly int[] _boundaries;
    private readonly float[] _values;

    /// <exception cref="ArgumentException">values.Length ≠ boundaries.Length + 1, or boundaries not strictly increasing.</exception>
    public PiecewiseConstantLR(ReadOnlySpan<int> boundaries, ReadOnlySpan<float> values)
    {
        if (values.Length != boundaries.Length + 1)
            throw new ArgumentException($"Need one more value than boundaries (got {boundaries.Length} boundaries and {values.Length} values).", nameof(values));
        for (int i = 1; i < boundaries.Length; i++)
        {
            if (boundaries[i] <= boundaries[i - 1])
                throw new ArgumentException($"Boundaries must be strictly increasing (boundary {i} is {boundaries[i]} after {boundaries[i - 1]}).", nameof(boundaries));
        }
        foreach (float v in values) LearningRateScheduleExtensions.CheckBase(v);
        _boundaries = boundaries.ToArray();
        _values = values.ToArray();
    }

    /// <inheritdoc/>
    public float LearningRate(int step)
    {
        LearningRateScheduleExtensions.CheckStep(step);
        int index = 0;
        while (index < _boundaries.Length && _boundaries[index] <= step) index++;
        return _values[index];
    }
}

/// <summary>torch.optim.lr_scheduler.ExponentialLR: lr = base · γ^t.</summary>
public sealed class ExponentialLR : ILearningRateSchedule
{
    private readonly float _base;
    private readonly double _gamma;

    /// <summary>Multiplies by <paramref name="gamma"/> every step.</summary>
    public ExponentialLR(float baseLearningRate, float gamma)
    {
        LearningRateScheduleExtensions.CheckBase(baseLearningRate);
        _base = baseLearningRate;
        _gamma = gamma;
    }

    /// <inheritdoc/>
    public float LearningRate(int step)
    {
        LearningRateScheduleExtensions.CheckStep(step);
        return (float)(_base * Math.Pow(_gamma, step));
    }
}

/// <summary>
/// torch.optim.lr_scheduler.CosineAnnealingLR in its closed form (PyTorch's <c>_get_closed_form_lr</c>):
/// lr = ηmin + (base − ηmin)(1 + cos(π t / tMax)) / 2. Past tMax the cosine continues (the rate rises
/// again, period 2·tMax), which is what the closed form, and in exact arithmetic PyTorch's recursive
/// form, give; no warm restarts (see CosineAnnealingWarmRestarts in PyTorch for those).
/// </summary>
public sealed class CosineAnnealingLR : ILearningRateSchedule
{
    private readonly float _base;
    private readonly int _tMax;
    private readonly float _etaMin;

    /// <summary>Anneals from the base rate to <paramref name="etaMin"/> over <paramref name="tMax"/> steps.</summary>
    public CosineAnnealingLR(float baseLearningRate, int tMax, float etaMin = 0f)
    {
        LearningRateScheduleExtensions.CheckBase(baseLearningRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tMax);
        _base = baseLearningRate;
        _tMax = tMax;
        _etaMin = etaMin;
    }

    /// <inheritdoc/>
    public float LearningRate(int step)
    {
        LearningRateScheduleExtensions.CheckStep(step);
        return (float)(_etaMin + (_base - (double)_etaMin) * (1 + Math.Cos(Math.PI * step / _tMax)) / 2);
    }
}

/// <summary>
/// torch.optim.lr_scheduler.LinearLR, used as warm-up: lr = base · (start + (end − start)·min(t, totalIters)/totalIters).
/// Defaults as PyTorch: startFactor 1/3, endFactor 1, totalIters 5.
/// </summary>
public sealed class LinearWarmup : ILearningRateSchedule
{
    private readonly float _base;
    private readonly double _startFactor, _endFactor;
    private readonly int _totalIters;

    /// <exception cref="ArgumentOutOfRangeException">startFactor not in (0, 1], endFactor not in [0, 1] (PyTorch's checks), or totalIters negative.</exception>
    public LinearWarmup(float baseLearningRate, float startFactor = 1f / 3f, float endFactor = 1f, int totalIters = 5)
    {
        LearningRateScheduleExtensions.CheckBase(baseLearningRate);
        if (!(startFactor > 0f && startFactor <= 1f))
            throw new ArgumentOutOfRangeException(nameof(startFactor), startFactor, "Starting multiplicative factor expected to be greater than 0 and less or equal to 1.");
        if (!(endFactor >= 0f && endFactor <= 1f))
            throw new ArgumentOutOfRangeException(nameof(endFactor), endFactor, "Ending multiplicative factor expected to be between 0 and 1.");
        ArgumentOutOfRangeException.ThrowIfNegative(totalIters);
        _base = baseLearningRate;
        _startFactor = startFactor;
        _endFactor = endFactor;
        _totalIters = totalIters;
    }

    /// <inheritdoc/>
    public float LearningRate(int step)
    {
        LearningRateScheduleExtensions.CheckStep(step);
        double progress = _totalIters == 0 ? 1.0 : Math.Min(step, _totalIters) / (double)_totalIters;
        return (float)(_base * (_startFactor + (_endFactor - _startFactor) * progress));
    }
}

/// <summary>
/// torch.optim.lr_scheduler.SequentialLR: schedule i runs from milestone i−1 on, restarted at its own
/// step 0 (PyTorch calls <c>step(0)</c> on it when its milestone is reached). Typical use: a
/// <see cref="LinearWarmup"/> for the first k steps, then cosine annealing.
/// </summary>
public sealed class SequentialLR : ILearningRateSchedule
{
    private readonly ILearningRateSchedule[] _schedules;
    private readonly int[] _milestones;

    /// <exception cref="ArgumentException">milestones.Length ≠ schedules.Length − 1 or milestones not strictly increasing and positive.</exception>
    public SequentialLR(ReadOnlySpan<ILearningRateSchedule> schedules, ReadOnlySpan<int> milestones)
    {
        if (schedules.Length == 0) throw new ArgumentException("At least one schedule is needed.", nameof(schedules));
        if (milestones.Length != schedules.Length - 1)
            throw new ArgumentException($"Sequential schedule expects {schedules.Length - 1} milestones for {schedules.Length} schedules, got {milestones.Length}.", nameof(milestones));
        for (int i = 0; i < milestones.Length; i++)
        {
            if (milestones[i] <= 0 || (i > 0 && milestones[i] <= milestones[i - 1]))
                throw new ArgumentException($"Milestones must be positive and strictly increasing (milestone {i} is {milestones[i]}).", nameof(milestones));
        }
        foreach (var s in schedules) ArgumentNullException.ThrowIfNull(s, nameof(schedules));
        _schedules = schedules.ToArray();
        _milestones = milestones.ToArray();
    }

    /// <summary>Warm-up for <paramref name="warmupSteps"/> steps, then <paramref name="then"/> from its step 0.</summary>
    public static SequentialLR WarmupThen(LinearWarmup warmup, int warmupSteps, ILearningRateSchedule then) =>
        new([warmup, then], [warmupSteps]);

    /// <inheritdoc/>
    public float LearningRate(int step)
    {
        LearningRateScheduleExtensions.CheckStep(step);
        int index = 0;
        while (index < _milestones.Length && _milestones[index] <= step) index++;
        int localStep = index == 0 ? step : step - _milestones[index - 1];
        return _schedules[index].LearningRate(localStep);
    }
}

/// <summary>Scaling policy of <see cref="CyclicLR"/>.</summary>
public enum CyclicMode
{
    /// <summary>Plain triangle, constant amplitude.</summary>
    Triangular,
    /// <summary>Triangle whose amplitude halves each cycle (scale 1/2^(cycle−1)).</summary>
    Triangular2,
    /// <summary>Triangle scaled by γ^t where t counts steps (PyTorch scale_mode "iterations").</summary>
    ExpRange,
}

/// <summary>
/// torch.optim.lr_scheduler.CyclicLR (Smith, 2017), learning-rate part only: PyTorch also cycles
/// momentum by default (cycle_momentum=True); that is not done here.
/// <code>
/// total = up + down, cycle = ⌊1 + t/total⌋, x = 1 + t/total − cycle
/// scale = x/(up/total) if x ≤ up/total else (x − 1)/(up/total − 1)
/// lr = baseLr + (maxLr − baseLr)·scale·f, f = 1 | 1/2^(cycle−1) | γ^t
/// </code>
/// </summary>
public sealed class CyclicLR : ILearningRateSchedule
{
    private readonly double _baseLr, _maxLr, _gamma, _totalSize, _stepRatio;
    private readonly CyclicMode _mode;

    /// <summary>Cycles between <paramref name="baseLr"/> and <paramref name="maxLr"/>; stepSizeDown defaults to stepSizeUp (PyTorch default 2000).</summary>
    public CyclicLR(float baseLr, float maxLr, int stepSizeUp = 2000, int? stepSizeDown = null, CyclicMode mode = CyclicMode.Triangular, float gamma = 1f)
    {
        LearningRateScheduleExtensions.CheckBase(baseLr);
        LearningRateScheduleExtensions.CheckBase(maxLr);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepSizeUp);
        int down = stepSizeDown ?? stepSizeUp;
        ArgumentOutOfRangeException.ThrowIfNegative(down);
        _baseLr = baseLr;
        _maxLr = maxLr;
        _totalSize = stepSizeUp + (double)down;
        _stepRatio = stepSizeUp / _totalSize;
        _mode = mode;
        _gamma = gamma;
    }

    /// <inheritdoc/>
    public float LearningRate(int step)
    {
        LearningRateScheduleExtensions.CheckStep(step);
        double cycle = Math.Floor(1 + step / _totalSize);
        double x = 1.0 + step / _totalSize - cycle;
        double scale = x <= _stepRatio ? x / _stepRatio : (x - 1) / (_stepRatio - 1);
        double height = (_maxLr - _baseLr) * scale;
        double factor = _mode switch
        {
            CyclicMode.Triangular => 1.0,
            CyclicMode.Triangular2 => 1.0 / Math.Pow(2, cycle - 1),
            CyclicMode.ExpRange => Math.Pow(_gamma, step),
            _ => throw new InvalidOperationException($"Unknown cyclic mode {_mode}."),
        };
        return (float)(_baseLr + height * factor);
    }
}
