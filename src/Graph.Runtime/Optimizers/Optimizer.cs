using System;
using System.Collections.Generic;

namespace Graph.Runtime.Optimizers;

/// <summary>One named state buffer of an optimizer for one parameter tensor (e.g. Adam's "m" of parameter 3).</summary>
/// <param name="Name">State name, e.g. "momentum_buffer", "m", "v", "v_max", "sum", "square_avg", "grad_avg".</param>
/// <param name="ParameterIndex">Index of the parameter tensor in the order given to <see cref="Optimizer.Bind"/>.</param>
/// <param name="Data">The buffer itself (live: <see cref="Optimizer.State"/> does not copy).</param>
public readonly record struct OptimizerStateEntry(string Name, int ParameterIndex, float[] Data);

/// <summary>
/// Base class of the first-order optimizers. The generated training step calls
/// <see cref="BeginStep"/> once per mini-batch and then <see cref="Update"/> once per parameter tensor.
/// </summary>
/// <remarks>
/// Update rules and defaults follow torch.optim 2.x (single-tensor, non-foreach, maximize=False,
/// non-capturable code paths), in float32 arithmetic. State buffers are allocated once in
/// <see cref="Bind"/>, so a step allocates nothing.
/// <para>Difference from PyTorch: PyTorch keeps a step counter per parameter (a parameter whose
/// gradient is None is skipped and its counter does not advance); here all parameters share
/// <see cref="StepCount"/>. The two agree whenever every parameter is updated every step, which is
/// what generated training code does.</para>
/// <para>Hyper-parameters are float32 (PyTorch keeps them as Python doubles), so e.g. β1 = 0.9f is
/// 0.9 − 2.4e-9; scalar factors such as Adam's bias corrections are computed in double from them and
/// rounded once. The resulting differences are far below float32 training noise.</para>
/// <para>Not implemented: maximize, foreach/fused/capturable paths, differentiable, per-parameter
/// groups (create one optimizer per group instead) and complex parameters.</para>
/// </remarks>
public abstract class Optimizer
{
    private readonly List<OptimizerStateEntry> _state = new();
    private int[] _parameterLengths = [];
    private float _learningRate;

    /// <summary>Initializes the learning rate (validated like PyTorch: must be finite and non-negative).</summary>
    protected Optimizer(float learningRate)
    {
        LearningRate = learningRate;
        InitialLearningRate = learningRate;
    }

    /// <summary>Short lower-case name used in checkpoint tensor names, e.g. "adam" in "optimizer.adam.m.dense1.w".</summary>
    public abstract string Kind { get; }

    /// <summary>Current learning rate; a schedule sets it before each step.</summary>
    public float LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0f) || float.IsInfinity(value))
                throw new ArgumentOutOfRangeException(nameof(value), value, "Invalid learning rate: must be finite and >= 0.");
            _learningRate = value;
        }
    }

    /// <summary>The learning rate given to the constructor: the base value schedules scale.</summary>
    public float InitialLearningRate { get; }

    /// <summary>Number of <see cref="BeginStep"/> calls so far (PyTorch's per-parameter state["step"]).</summary>
    public long StepCount { get; private set; }

    /// <summary>True once <see cref="Bind"/> has allocated the state.</summary>
    public bool IsBound { get; private set; }

    /// <summary>Number of parameter tensors bound.</summary>
    public int ParameterCount => _parameterLengths.Length;

    /// <summary>Element count of parameter tensor <paramref name="parameterIndex"/>.</summary>
    public int ParameterLength(int parameterIndex) => _parameterLengths[parameterIndex];

    /// <summary>
    /// All state buffers, in a stable order (by parameter, then by state name as allocated).
    /// The arrays are the live buffers: copy them if the optimizer keeps stepping.
    /// </summary>
    public IReadOnlyList<OptimizerStateEntry> State => _state;

    /// <summary>Allocates the optimizer state for parameter tensors of the given element counts. Call once.</summary>
    /// <exception cref="InvalidOperationException">Already bound.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A length is negative.</exception>
    public void Bind(ReadOnlySpan<int> parameterLengths)
    {
        if (IsBound) throw new InvalidOperationException($"{GetType().Name} is already bound to {ParameterCount} parameter tensors.");
        for (int i = 0; i < parameterLengths.Length; i++)
        {
            if (parameterLengths[i] < 0)
                throw new ArgumentOutOfRangeException(nameof(parameterLengths), $"Parameter {i} has negative length {parameterLengths[i]}.");
        }
        _parameterLengths = parameterLengths.ToArray();
        for (int i = 0; i < _parameterLengths.Length; i++)
            AllocateState(i, _parameterLengths[i]);
        IsBound = true;
    }

    /// <summary>Starts a new optimization step: increments <see cref="StepCount"/> (Adam's bias correction and Adagrad's lr decay read it).</summary>
    public void BeginStep()
    {
        if (!IsBound) throw new InvalidOperationException($"{GetType().Name}.Bind must be called before BeginStep.");
        StepCount++;
    }

    /// <summary>Applies one update in place to parameter tensor <paramref name="parameterIndex"/> given its gradient.</summary>
    public abstract void Update(int parameterIndex, Span<float> parameter, ReadOnlySpan<float> gradient);

    /// <summary>Called by <see cref="Bind"/> for each parameter; implementations call <see cref="AddState"/>.</summary>
    protected abstract void AllocateState(int parameterIndex, int length);

    /// <summary>Allocates and registers one named state buffer (filled with <paramref name="initialValue"/>).</summary>
    protected float[] AddState(string name, int parameterIndex, int length, float initialValue = 0f)
    {
        // Zeros written rather than left to the allocator: the update reads a state before writing it, and a read of
        // fresh memory maps the shared zero page, so the first write faults a second time and flushes the TLB of every
        // core running this process (for LeNet's 1.7 M parameters a large share of the first step). Written first,
        // each page faults once.
        var buffer = GC.AllocateUninitializedArray<float>(length);
        buffer.AsSpan().Fill(initialValue);
        _state.Add(new OptimizerStateEntry(name, parameterIndex, buffer));
        return buffer;
    }

    /// <summary>Checks the call against the bound sizes; cheap enough for every step.</summary>
    protected void ValidateUpdate(int parameterIndex, Span<float> parameter, ReadOnlySpan<float> gradient)
    {
        if ((uint)parameterIndex >= (uint)_parameterLengths.Length)
            throw new ArgumentOutOfRangeException(nameof(parameterIndex), parameterIndex, $"{GetType().Name} is bound to {_parameterLengths.Length} parameter tensors.");
        int expected = _parameterLengths[parameterIndex];
        if (parameter.Length != expected || gradient.Length != expected)
            throw new ArgumentException($"Parameter {parameterIndex} was bound with {expected} elements but got parameter length {parameter.Length} and gradient length {gradient.Length}.");
        if (StepCount == 0)
            throw new InvalidOperationException($"Call {GetType().Name}.BeginStep before Update.");
    }

    /// <summary>
    /// Restores the step counter and every state buffer (e.g. from a checkpoint). Each entry is
    /// matched by (name, parameter index) and must have the bound length; every buffer must be given.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not bound.</exception>
    /// <exception cref="ArgumentException">An entry is unknown, has the wrong length, is duplicated, or a buffer is missing.</exception>
    public void Restore(long stepCount, IEnumerable<OptimizerStateEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (!IsBound) throw new InvalidOperationException($"{GetType().Name}.Bind must be called before Restore.");
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        var seen = new bool[_state.Count];
        var pending = new List<(int Slot, float[] Data)>();
        foreach (var entry in entries)
        {
            int slot = _state.FindIndex(s => s.Name == entry.Name && s.ParameterIndex == entry.ParameterIndex);
            if (slot < 0)
                throw new ArgumentException($"{GetType().Name} has no state '{entry.Name}' for parameter {entry.ParameterIndex}.", nameof(entries));
            if (seen[slot])
                throw new ArgumentException($"State '{entry.Name}' for parameter {entry.ParameterIndex} is given twice.", nameof(entries));
            if (entry.Data.Length != _state[slot].Data.Length)
                throw new ArgumentException($"State '{entry.Name}' for parameter {entry.ParameterIndex} has {entry.Data.Length} elements; expected {_state[slot].Data.Length}.", nameof(entries));
            seen[slot] = true;
            pending.Add((slot, entry.Data));
        }
        int missing = Array.IndexOf(seen, false);
        if (missing >= 0)
            throw new ArgumentException($"State '{_state[missing].Name}' for parameter {_state[missing].ParameterIndex} is missing.", nameof(entries));
        // Copy only after everything validated, so a bad restore leaves the optimizer unchanged.
        foreach (var (slot, data) in pending)
            data.AsSpan().CopyTo(_state[slot].Data);
        StepCount = stepCount;
    }

    /// <summary>Throws the ArgumentOutOfRangeException PyTorch raises for a hyper-parameter outside its range.</summary>
    protected static void Require(bool condition, string parameterName, float value, string rule)
    {
        if (!condition) throw new ArgumentOutOfRangeException(parameterName, value, $"Invalid {parameterName}: {rule}.");
    }
}
