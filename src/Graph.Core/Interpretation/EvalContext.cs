namespace Graph.Interpretation;

/// <summary>Whether a graph runs for training (batch statistics, dropout) or evaluation.</summary>
public enum Mode
{
    /// <summary>Training: batch norm uses batch statistics and updates running ones; dropout drops.</summary>
    Train,
    /// <summary>Evaluation: batch norm uses running statistics; dropout is the identity.</summary>
    Eval,
}

/// <summary>What an op may need to know about the run besides its inputs.</summary>
public sealed class EvalContext
{
    /// <summary>Creates a context.</summary>
    public EvalContext(int batch, Mode mode, ulong seed, long step)
    {
        Batch = batch;
        Mode = mode;
        Seed = seed;
        Step = step;
    }

    /// <summary>Bound value of the symbolic batch dimension.</summary>
    public int Batch { get; }

    /// <summary>Training or evaluation.</summary>
    public Mode Mode { get; }

    /// <summary>Seed of the model's random streams (dropout).</summary>
    public ulong Seed { get; }

    /// <summary>Training step number; dropout masks differ per step.</summary>
    public long Step { get; }
}
