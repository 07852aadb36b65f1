using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Graph.Builder;
using Graph.Runtime.Initialization;

namespace HyperparameterSearchExample;

/// <summary>One point of the search space.</summary>
/// <param name="Depth">Hidden layers (1-3), all of the same width.</param>
/// <param name="Width">Units per hidden layer.</param>
/// <param name="LearningRate">Adam's learning rate.</param>
/// <param name="L2">λ of λ·Σw² over the weight matrices (biases are not penalized); 0 for none.</param>
/// <param name="Dropout">Dropout probability after each hidden layer.</param>
/// <param name="BatchSize">Examples per step.</param>
internal sealed record Config(int Depth, int Width, double LearningRate, double L2, double Dropout, int BatchSize)
{
    public override string ToString() =>
        $"depth {Depth}, width {Width}, lr {Lr(LearningRate)}, l2 {Lr(L2)}, dropout {Dropout.ToString("F2", CultureInfo.InvariantCulture)}, batch {BatchSize}";

    public static string Lr(double v) => v == 0 ? "0" : v.ToString("0.00e+0", CultureInfo.InvariantCulture);

    /// <summary>
    /// The candidate as a graph: flatten, Depth × (matmul + bias, ReLU, dropout), matmul + bias to 10 logits,
    /// softmax cross-entropy plus the L2 penalty on every weight matrix. Weights are declared with m.Parameter and
    /// applied with MatMul (what Dense does) so that the penalty can name them.
    /// </summary>
    public ModelBuilder Build()
    {
        var m = new ModelBuilder($"mlp_d{Depth}_w{Width}");
        var x = m.Input("image", 1, 28, 28);
        var y = m.Labels("label", classes: 10);
        var h = x.Flatten();
        int inputs = 784;
        var weights = new List<Tensor>();
        for (int layer = 1; layer <= Depth; layer++)
        {
            var w = Weight(m, $"fc{layer}", inputs, Width);
            weights.Add(w);
            h = (h.MatMul(w) + Bias(m, $"fc{layer}", inputs, Width)).Relu();
            if (Dropout > 0) h = h.Dropout(Dropout);
            inputs = Width;
        }
        var wOut = Weight(m, "out", inputs, 10);
        weights.Add(wOut);
        var logits = h.MatMul(wOut) + Bias(m, "out", inputs, 10);
        m.Output(logits);

        var loss = logits.SoftmaxCrossEntropy(y);
        if (L2 > 0)
            foreach (var w in weights) loss = loss + w.L2Penalty(L2);
        m.Loss(loss);
        return m;
    }

    // PyTorch's nn.Linear initialization, U(±1/√fan_in), for the weight [in, out] and the bias [out].
    private static Tensor Weight(ModelBuilder m, string layer, int inputs, int outputs) =>
        m.Parameter(layer + ".weight", new[] { inputs, outputs }, Init.TorchDefault.WithFans(inputs, outputs));

    private static Tensor Bias(ModelBuilder m, string layer, int inputs, int outputs) =>
        m.Parameter(layer + ".bias", new[] { outputs }, Init.TorchDefault.WithFans(inputs, outputs));
}

/// <summary>
/// The ranges random search samples from. Scale-type hyperparameters (width, learning rate, L2 strength, batch size)
/// are sampled uniformly in log space: between 1e-4 and 1e-3 there are as many candidates as between 1e-2 and 1e-1,
/// which is what matters for a quantity whose effect is multiplicative. Sampling lr uniformly in [1e-4, 1e-1] would put
/// 90% of the trials above 1e-2.
/// </summary>
internal sealed record SearchSpace(
    int[] Depths,
    double Log10WidthMin, double Log10WidthMax,
    double Log10LrMin, double Log10LrMax,
    double Log10L2Min, double Log10L2Max, double L2ZeroProbability,
    double DropoutMin, double DropoutMax,
    double Log2BatchMin, double Log2BatchMax)
{
    /// <summary>The coarse stage: wide ranges.</summary>
    public static SearchSpace Coarse => new(
        Depths: new[] { 1, 2, 3 },
        Log10WidthMin: Math.Log10(32), Log10WidthMax: Math.Log10(512),
        Log10LrMin: -4, Log10LrMax: -1,
        Log10L2Min: -6, Log10L2Max: -2, L2ZeroProbability: 0.25,
        DropoutMin: 0, DropoutMax: 0.5,
        Log2BatchMin: 5, Log2BatchMax: 8); // 32 … 256

    public Config Sample(Rng rng)
    {
        int depth = Depths[rng.NextInt(Depths.Length)];
        int width = (int)Math.Round(Math.Pow(10, Uniform(rng, Log10WidthMin, Log10WidthMax)));
        double lr = Math.Pow(10, Uniform(rng, Log10LrMin, Log10LrMax));
        double l2 = rng.NextDouble() < L2ZeroProbability ? 0 : Math.Pow(10, Uniform(rng, Log10L2Min, Log10L2Max));
        double dropout = Uniform(rng, DropoutMin, DropoutMax);
        // Batch sizes are powers of two: sample the exponent (log scale) and round it.
        int batch = 1 << (int)Math.Round(Uniform(rng, Log2BatchMin, Log2BatchMax));
        return new Config(depth, width, lr, l2, dropout, batch);
    }

    /// <summary>
    /// The fine stage's space: for each hyperparameter, the span (in its sampling scale) of the best coarse trials,
    /// widened by a margin of 15% of the coarse range on each side and clipped to the coarse range. Depth keeps only
    /// the depths of the best trials; L2 = 0 stays possible only if one of them had no penalty.
    /// </summary>
    public SearchSpace Narrow(IReadOnlyList<Config> best)
    {
        const double margin = 0.15;
        (double, double) Around(IEnumerable<double> values, double min, double max)
        {
            var v = values.ToArray();
            double pad = margin * (max - min);
            return (Math.Max(min, v.Min() - pad), Math.Min(max, v.Max() + pad));
        }
        var (wLo, wHi) = Around(best.Select(c => Math.Log10(c.Width)), Log10WidthMin, Log10WidthMax);
        var (lrLo, lrHi) = Around(best.Select(c => Math.Log10(c.LearningRate)), Log10LrMin, Log10LrMax);
        var penalized = best.Where(c => c.L2 > 0).ToArray();
        var (l2Lo, l2Hi) = penalized.Length > 0 ? Around(penalized.Select(c => Math.Log10(c.L2)), Log10L2Min, Log10L2Max) : (Log10L2Min, Log10L2Max);
        double l2Zero = penalized.Length == best.Count ? 0 : penalized.Length == 0 ? 1 : (double)(best.Count - penalized.Length) / best.Count;
        var (dLo, dHi) = Around(best.Select(c => c.Dropout), DropoutMin, DropoutMax);
        var (bLo, bHi) = Around(best.Select(c => Math.Log2(c.BatchSize)), Log2BatchMin, Log2BatchMax);
        return new SearchSpace(best.Select(c => c.Depth).Distinct().OrderBy(d => d).ToArray(),
            wLo, wHi, lrLo, lrHi, l2Lo, l2Hi, l2Zero, dLo, dHi, bLo, bHi);
    }

    public string Describe()
    {
        static string P(double log10) => Config.Lr(Math.Pow(10, log10));
        static string F(double v, string f = "F2") => v.ToString(f, CultureInfo.InvariantCulture);
        string l2 = L2ZeroProbability >= 1 ? "0"
            : $"[{P(Log10L2Min)}, {P(Log10L2Max)}] log{(L2ZeroProbability > 0 ? $", 0 with p={F(L2ZeroProbability)}" : "")}";
        return $"depth {{{string.Join(",", Depths)}}}, width [{F(Math.Pow(10, Log10WidthMin), "F0")}, {F(Math.Pow(10, Log10WidthMax), "F0")}] log, " +
               $"lr [{P(Log10LrMin)}, {P(Log10LrMax)}] log, l2 {l2}, dropout [{F(DropoutMin)}, {F(DropoutMax)}], " +
               $"batch [{F(Math.Pow(2, Log2BatchMin), "F0")}, {F(Math.Pow(2, Log2BatchMax), "F0")}] log2";
    }

    private static double Uniform(Rng rng, double low, double high) => low + (high - low) * rng.NextDouble();
}
