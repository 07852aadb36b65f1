using System;
using System.Collections.Generic;
using Graph.Runtime.Optimizers;

namespace Graph.Runtime.Models;

/// <summary>What a named tensor of a compiled model is.</summary>
public enum ModelTensorKind
{
    /// <summary>A float feature input, fed on every call.</summary>
    Input,
    /// <summary>Integer class labels, fed to the loss.</summary>
    Labels,
    /// <summary>Float regression targets, fed to the loss.</summary>
    Targets,
    /// <summary>A trainable parameter.</summary>
    Parameter,
    /// <summary>Non-trainable state the training step updates (batch-norm running statistics).</summary>
    State,
}

/// <summary>A named tensor of a compiled model: its kind and shape (-1 marks the batch dimension).</summary>
public sealed class ModelTensorInfo
{
    /// <summary>Creates the description.</summary>
    public ModelTensorInfo(string name, ModelTensorKind kind, int[] shape)
    {
        Name = name;
        Kind = kind;
        Shape = shape;
        long size = 1;
        foreach (int d in shape) if (d != -1) size *= d;
        ElementsPerItem = checked((int)size);
    }

    /// <summary>The name used in the model definition ("fc1.weight", "x").</summary>
    public string Name { get; }

    /// <summary>What it is.</summary>
    public ModelTensorKind Kind { get; }

    /// <summary>The shape; inputs start with -1, the batch dimension.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Elements per example (inputs) or in total (parameters and states).</summary>
    public int ElementsPerItem { get; }

    /// <inheritdoc />
    public override string ToString() => Name + " [" + string.Join(",", Shape) + "] " + Kind;
}

/// <summary>
/// A model compiled ahead of time into a <c>[Model]</c> partial class (or at run time). Any batch from 1 to
/// <see cref="MaxBatch"/> runs without recompiling; nothing is allocated per call after construction.
/// The low-level entry points read their inputs from <see cref="InputBuffer"/> and <see cref="LabelBuffer"/>;
/// the typed methods the generator adds (and <see cref="ISupervisedModel{TLabel}"/>) copy spans there first.
/// </summary>
public interface ICompiledModel
{
    /// <summary>The model's name.</summary>
    string Name { get; }

    /// <summary>The largest batch the model was sized for.</summary>
    int MaxBatch { get; }

    /// <summary>The seed that initialized the parameters and keys the dropout masks.</summary>
    ulong Seed { get; }

    /// <summary>
    /// The mode <see cref="Predict(int, Span{float})"/> and <see cref="Loss(int)"/> run in: false (the default)
    /// is evaluation (dropout off, batch norm on running statistics); true runs them as in training
    /// (dropout masks of the current step, batch statistics) without updating anything.
    /// </summary>
    bool IsTraining { get; set; }

    /// <summary>Training steps taken (the dropout masks' step counter).</summary>
    long TrainingSteps { get; }

    /// <summary>
    /// Checked mode for debugging: after each kernel, a NaN or infinity raises <see cref="NonFiniteValueException"/>
    /// naming the graph node, its op and the source line that built it. Off by default (one untaken branch per kernel).
    /// </summary>
    bool CheckFinite
    {
        get => false;
        set { if (value) throw new NotSupportedException($"Model '{Name}' has no checked mode."); }
    }

    /// <summary>Feature inputs, labels and targets, in declaration order.</summary>
    IReadOnlyList<ModelTensorInfo> Inputs { get; }

    /// <summary>Parameters in declaration order (the optimizer's parameter indices).</summary>
    IReadOnlyList<ModelTensorInfo> Parameters { get; }

    /// <summary>State tensors in declaration order.</summary>
    IReadOnlyList<ModelTensorInfo> States { get; }

    /// <summary>Floats of prediction per example (0 when the model declares no output).</summary>
    int OutputSize { get; }

    /// <summary>The parameter's values (stable storage, read and written in place; kept by checkpoints and early stopping).</summary>
    Memory<float> Parameter(string name);

    /// <summary>The parameter's gradient from the last <see cref="ComputeGradients(int)"/> or <see cref="TrainStep(int)"/>.</summary>
    Memory<float> Gradient(string name);

    /// <summary>The state tensor's values.</summary>
    Memory<float> State(string name);

    /// <summary>The storage of a float input or target (MaxBatch examples); the low-level calls read the first batch examples.</summary>
    Span<float> InputBuffer(string name);

    /// <summary>The storage of integer labels (MaxBatch examples).</summary>
    Span<int> LabelBuffer(string name);

    /// <summary>Updates parameters from gradients in <see cref="TrainStep(int)"/>; SGD with learning rate 0.01 unless set.</summary>
    Optimizer Optimizer { get; set; }

    /// <summary>Prediction for the first <paramref name="batch"/> examples of the input buffers.</summary>
    void Predict(int batch, Span<float> output);

    /// <summary>Mean loss over the first <paramref name="batch"/> examples of the input buffers (evaluation mode unless <see cref="IsTraining"/>).</summary>
    float Loss(int batch);

    /// <summary>Training-mode forward and backward pass: fills the gradients, returns the loss; parameters and states are unchanged.</summary>
    float ComputeGradients(int batch);

    /// <summary>Forward, backward, optimizer update and state updates; returns the loss before the update.</summary>
    float TrainStep(int batch);

    /// <summary>
    /// Copies the prediction of the last training pass (<see cref="ComputeGradients(int)"/> or <see cref="TrainStep(int)"/>:
    /// training mode, the parameters before that step's update), so a trainer measures a batch's training accuracy
    /// without a second forward pass. Valid until the next <see cref="Predict(int, Span{float})"/> or <see cref="Loss(int)"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model declares no output or no loss, or no training pass has run since the last Predict or Loss.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is not the batch of that training pass.</exception>
    /// <exception cref="ArgumentException"><paramref name="output"/> does not hold batch·<see cref="OutputSize"/> floats.</exception>
    void TrainingOutput(int batch, Span<float> output);
}

/// <summary>
/// A model with one feature input and one label input: <typeparamref name="TLabel"/> is <see cref="int"/> for class
/// labels and <see cref="float"/> for regression targets. Spans of the wrong length throw <see cref="ArgumentException"/>
/// naming the input and the expected length; a batch outside [1, MaxBatch] throws <see cref="ArgumentOutOfRangeException"/>;
/// a class label out of range throws <see cref="ArgumentException"/>.
/// </summary>
public interface ISupervisedModel<TLabel> : ICompiledModel where TLabel : unmanaged
{
    /// <summary>Floats per example of the feature input.</summary>
    int InputSize { get; }

    /// <summary>Labels (1) or target floats per example.</summary>
    int LabelSize { get; }

    /// <summary>Writes batch·OutputSize floats of prediction.</summary>
    void Predict(ReadOnlySpan<float> input, int batch, Span<float> output);

    /// <summary>The mean loss (evaluation mode unless <see cref="ICompiledModel.IsTraining"/>).</summary>
    float Loss(ReadOnlySpan<float> input, ReadOnlySpan<TLabel> labels, int batch);

    /// <summary>Training-mode forward and backward: fills the gradients and returns the loss.</summary>
    float ComputeGradients(ReadOnlySpan<float> input, ReadOnlySpan<TLabel> labels, int batch);

    /// <summary>Forward, backward, optimizer update and state updates; returns the loss.</summary>
    float TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<TLabel> labels, int batch);
}
