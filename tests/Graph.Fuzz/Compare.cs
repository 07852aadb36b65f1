using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Graph.Fuzz;

/// <summary>
/// The float32 tolerance. A tensor b from an engine matches the float64 reference a when
///   ‖b − a‖₂ ≤ Relative·‖a‖₂ + Absolute·√n
/// (norm-wise relative error 1e-3, plus an absolute floor of 1e-4 per element for tensors that are ~0 by
/// cancellation, such as batch-norm input and shift gradients: their terms are up to ~100, so float32 rounding of
/// the sum alone leaves about 6e-8·100·√terms ≈ 1e-5 — the 10,000-graph run at 1e-5 failed one such gradient,
/// −4.8e-6 in float64 against −1.5e-5 in float32 — while a wrong kernel errs by O(1)). Why 1e-3: float32 has a unit roundoff of 6e-8; the
/// generator keeps every value within ±100 and away from kinks, ties and domain edges, and graphs are at most
/// a few dozen ops with reductions over at most a few hundred terms, so a correct float32 engine's error is
/// about 1e-6..1e-5 relative (the float32-rounding interpreter, "interp-f32", is the check of that). A wrong
/// kernel (a wrong index, a missed broadcast, a dropped term, a wrong constant) errs by O(1) relative, so 1e-3
/// leaves two orders of magnitude on either side. Non-finite values where the reference is finite, and shape
/// (length) differences, always mismatch.
/// </summary>
public static class Tolerance
{
    public const double Relative = 1e-3;
    public const double Absolute = 1e-4;

    /// <summary>The keys both results have, with the first failing ones described; empty when they agree.</summary>
    public static List<string> Compare(IReadOnlyDictionary<string, double[]> reference, IReadOnlyDictionary<string, double[]> candidate)
    {
        var problems = new List<string>();
        foreach (var (key, b) in candidate.OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            // "train:loss (ComputeGradients)" is checked against the reference's "train:loss".
            int paren = key.IndexOf(" (", StringComparison.Ordinal);
            if (!reference.TryGetValue(paren < 0 ? key : key[..paren], out var a)) continue;
            var problem = CompareOne(a, b);
            if (problem is not null) problems.Add(key + ": " + problem);
        }
        return problems;
    }

    /// <summary>How much of the tolerance <paramref name="b"/> uses: ‖b − a‖ / bound (≤ 1 passes; NaN for a length mismatch).</summary>
    public static double Usage(double[] a, double[] b)
    {
        if (a.Length != b.Length) return double.NaN;
        double diff = 0, norm = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = b[i] - a[i];
            diff += d * d;
            norm += a[i] * a[i];
        }
        return Math.Sqrt(diff) / (Relative * Math.Sqrt(norm) + Absolute * Math.Sqrt(a.Length));
    }

    /// <summary>The largest <see cref="Usage"/> over the common keys.</summary>
    public static double WorstUsage(IReadOnlyDictionary<string, double[]> reference, IReadOnlyDictionary<string, double[]> candidate)
    {
        double worst = 0;
        foreach (var (key, b) in candidate)
        {
            int paren = key.IndexOf(" (", StringComparison.Ordinal);
            if (reference.TryGetValue(paren < 0 ? key : key[..paren], out var a)) worst = Math.Max(worst, Usage(a, b));
        }
        return worst;
    }

    public static string? CompareOne(double[] a, double[] b)
    {
        if (a.Length != b.Length) return $"length {b.Length}, expected {a.Length}";
        double diff = 0, norm = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (!double.IsFinite(b[i]) && double.IsFinite(a[i])) return $"element {i} is {b[i]}, expected {a[i]}";
            double d = b[i] - a[i];
            diff += d * d;
            norm += a[i] * a[i];
        }
        diff = Math.Sqrt(diff);
        norm = Math.Sqrt(norm);
        double bound = Relative * norm + Absolute * Math.Sqrt(a.Length);
        if (diff <= bound) return null;
        return string.Create(CultureInfo.InvariantCulture,
            $"relative error {diff / Math.Max(norm, 1e-300):G3} (|diff| {diff:G3} > bound {bound:G3}); expected {Show(a)}, got {Show(b)}");
    }

    private static string Show(double[] v)
    {
        var sb = new StringBuilder("[");
        sb.Append(string.Join(", ", v.Take(6).Select(x => x.ToString("G6", CultureInfo.InvariantCulture))));
        if (v.Length > 6) sb.Append(", ...");
        return sb.Append(']').ToString();
    }
}
