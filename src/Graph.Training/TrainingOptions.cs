using Graph.Runtime.Data;
using Graph.Runtime.Schedules;

namespace Graph.Training;

/// <summary>How <see cref="Trainer"/> runs: epochs, batches, schedule, early stopping, checkpoints, plots and output.</summary>
public sealed class TrainingOptions
{
    /// <summary>Passes over the training set (default 10).</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Examples per step; the last batch of an epoch may be smaller (default 64).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Seed of shuffling and augmentation.</summary>
    public ulong Seed { get; init; }

    /// <summary>Learning rate per optimizer step; null keeps the optimizer's own.</summary>
    public ILearningRateSchedule? Schedule { get; init; }

    /// <summary>Stop after this many epochs without a lower validation loss and restore the best weights; null disables.</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>Checkpoint file (safetensors) written atomically after every epoch and on Ctrl+C; null disables.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Continue from <see cref="CheckpointPath"/> if it exists.</summary>
    public bool Resume { get; init; }

    /// <summary>Directory for the PNG curves (and the confusion matrix); null disables plotting.</summary>
    public string? PlotDirectory { get; init; }

    /// <summary>Caps batches per epoch (smoke runs); null runs whole epochs.</summary>
    public int? MaxBatchesPerEpoch { get; init; }

    /// <summary>Random translation/rotation/scaling of training images; null disables.</summary>
    public ImageAugmentation? Augmentation { get; init; }

    /// <summary>Live progress bar; turned off automatically when output is redirected.</summary>
    public bool ShowProgress { get; init; } = true;
}
