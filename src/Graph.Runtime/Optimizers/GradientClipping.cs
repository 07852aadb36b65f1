using System;
using System.Collections.Generic;
using System.Numerics.Tensors;

namespace Graph.Runtime.Optimizers;

/// <summary>Gradient clipping as torch.nn.utils.clip_grad_norm_ and clip_grad_value_.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales all gradients in place by min(1, maxNorm / (‖g‖₂ + 1e-6)), where ‖g‖₂ is the L2 norm
    /// of all gradients concatenated (torch.nn.utils.clip_grad_norm_ with norm_type 2, including its
    /// 1e-6 guard). Returns the total norm before clipping. Allocation-free.
    /// </summary>
    public static float ClipByGlobalNorm(IReadOnlyList<Memory<float>> gradients, float maxNorm)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        if (!(maxNorm >= 0f)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be >= 0.");
        double sumOfSquares = 0;
        for (int i = 0; i < gradients.Count; i++)
        {
            ReadOnlySpan<float> g = gradients[i].Span;
            // Per-tensor norm in float (vectorized), combined in double, as PyTorch combines per-tensor norms.
            float norm = TensorPrimitives.Norm(g);
            sumOfSquares += (double)norm * norm;
        }
        float totalNorm = (float)Math.Sqrt(sumOfSquares);
        float coefficient = (float)(maxNorm / (totalNorm + 1e-6));
        if (coefficient < 1f)
        {
            for (int i = 0; i < gradients.Count; i++)
            {
                Span<float> g = gradients[i].Span;
                TensorPrimitives.Multiply(g, coefficient, g);
            }
        }
        return totalNorm;
    }

    /// <summary>Clamps every gradient element to [−clipValue, clipValue] in place (torch.nn.utils.clip_grad_value_).</summary>
    public static void ClipByValue(Span<float> gradient, float clipValue)
    {
        if (!(clipValue >= 0f)) throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "clipValue must be >= 0.");
        TensorPrimitives.Clamp(gradient, -clipValue, clipValue, gradient);
    }
}
