using System;
using System.Collections.Generic;
using Graph.Runtime.Optimizers;

namespace Graph.Runtime.Models;

/// <summary>Name and shape of a parameter or state tensor of a compiled model.</summary>
public sealed record TensorInfo(string Name, int[] Shape)
{
    /// <summary>Number of elements.</summary>
    public int Length
    {
        get
        {
            int length = 1;
            foreach (int d in Shape) length *= d;
            return length;
        }
    }
}

/// <summary>
/// What every compiled model offers, whichever engine produced it (source generator or run-time JIT):
/// its parameters, gradients and state by name, train/eval mode and the optimizer its training step uses.
/// </summary>
public interface ICompiledModel
{
    /// <summary>The model's name.</summary>
    string Name { get; }

    /// <summary>Largest batch the model's memory was planned for.</summary>
    int MaxBatch { get; }

    /// <summary>Training mode (dropout active, batch norm on batch statistics) or evaluation mode.</summary>
    bool IsTraining { get; set; }

    /// <summary>Trainable parameters in declaration order.</summary>
    IReadOnlyList<TensorInfo> Parameters { get; }

    /// <summary>Non-trainable state (running statistics) in declaration order.</summary>
    IReadOnlyList<TensorInfo> States { get; }

    /// <summary>The values of parameter <paramref name="name"/>; writable.</summary>
    Memory<float> Parameter(string name);

    /// <summary>The gradient of the loss with respect to parameter <paramref name="name"/> from the last backward pass.</summary>
    Memory<float> Gradient(string name);

    /// <summary>The values of state tensor <paramref name="name"/>; writable.</summary>
    Memory<float> State(string name);

    /// <summary>The optimizer the training step applies (SGD with lr 0.01 until set).</summary>
    Optimizer Optimizer { get; set; }
}

/// <summary>
/// A compiled model with one feature input and one label input: <typeparamref name="TLabel"/> is int for
/// class labels and float for regression or one-hot targets. Spans hold whole batches, row-major.
/// </summary>
public interface ISupervisedModel<TLabel> : ICompiledModel
{
    /// <summary>Floats per example of the feature input.</summary>
    int InputSize { get; }

    /// <summary>Label values per example (1 for class labels).</summary>
    int LabelSize { get; }

    /// <summary>Floats per example of the prediction.</summary>
    int OutputSize { get; }

    /// <summary>Forward pass in the current mode; writes batch × OutputSize floats.</summary>
    void Predict(ReadOnlySpan<float> input, int batch, Span<float> output);

    /// <summary>The loss in evaluation mode (no state changes).</summary>
    float Loss(ReadOnlySpan<float> input, ReadOnlySpan<TLabel> labels, int batch);

    /// <summary>Forward and backward in training mode: fills every gradient and returns the loss.</summary>
    float ComputeGradients(ReadOnlySpan<float> input, ReadOnlySpan<TLabel> labels, int batch);

    /// <summary>Forward, backward, optimizer update and state updates in training mode; returns the loss before the update.</summary>
    float TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<TLabel> labels, int batch);
}
