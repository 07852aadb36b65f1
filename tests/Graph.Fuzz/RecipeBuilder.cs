using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Fuzz;

/// <summary>An instruction whose operands no longer fit it (after shrinking): it passes its first operand through.</summary>
public sealed class InapplicableException : Exception
{
    public InapplicableException(string message) : base(message) { }
}

/// <summary>A condition on the float64 values of a built graph that keeps engines away from kinks, ties and domain edges.</summary>
public sealed record DomainCheck(int Instr, string What, Func<TensorValue[], Mode, string?> Violation);

/// <summary>A recipe built into a model: the builder (loss and prediction declared, no gradients yet) and what it took.</summary>
public sealed class Built
{
    public required Recipe Recipe { get; init; }
    public required ModelBuilder Model { get; init; }
    /// <summary>Each instruction's tensor (null where it was dropped).</summary>
    public required Tensor?[] Values { get; init; }
    /// <summary>True where the instruction was applied as written (false: passed through or dropped).</summary>
    public required bool[] Applied { get; init; }
    public required List<DomainCheck> Checks { get; init; }
    public required Dictionary<string, int> LabelClasses { get; init; }
    public bool HasOutput { get; init; }

    /// <summary>Values for every leaf: float32-representable, away from kinks (see <see cref="Feeding"/>).</summary>
    public Dictionary<string, TensorValue> Feeds() => Feeding.Feeds(Model.Graph, Recipe, LabelClasses);

    /// <summary>Per instruction: the smallest value, the largest and the smallest magnitude over both modes (NaN where dropped).</summary>
    public (double Min, double Max, double MinAbs)[] Stats()
    {
        var feeds = Feeds();
        var stats = Enumerable.Repeat((double.PositiveInfinity, double.NegativeInfinity, double.PositiveInfinity), Values.Length).ToArray();
        foreach (var mode in new[] { Mode.Train, Mode.Eval })
        {
            var values = Interpreter.Evaluate(Model.Graph, feeds, mode, Precision.Float64, Recipe.Seed, 0);
            for (int i = 0; i < Values.Length; i++)
            {
                if (Values[i] is not Tensor t) continue;
                foreach (double d in values[t.Node.Id].Data)
                    stats[i] = (Math.Min(stats[i].Item1, d), Math.Max(stats[i].Item2, d), Math.Min(stats[i].Item3, Math.Abs(d)));
            }
        }
        return stats;
    }

    /// <summary>The first violated domain condition in either mode, or null.</summary>
    public string? DomainViolation()
    {
        var feeds = Feeds();
        foreach (var mode in new[] { Mode.Train, Mode.Eval })
        {
            TensorValue[] values;
            try { values = Interpreter.Evaluate(Model.Graph, feeds, mode, Precision.Float64, Recipe.Seed, 0); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return "evaluation failed: " + e.Message; }
            foreach (var node in Model.Graph.Nodes)
            {
                var v = values[node.Id];
                foreach (double d in v.Data)
                    if (!double.IsFinite(d) || Math.Abs(d) > 1e4) return $"{mode}: {node.Ref} ({node.Op.Name}) has value {d}";
            }
            foreach (var check in Checks)
            {
                var problem = check.Violation(values, mode);
                if (problem is not null) return $"{mode}: instruction {check.Instr} ({Recipe.Instrs[check.Instr].Op}) {check.What}: {problem}";
            }
        }
        return null;
    }
}

/// <summary>Builds a recipe with the builder API, leniently: an instruction that does not fit its operands passes its first operand through.</summary>
public static class RecipeBuilder
{
    /// <summary>Bound on every instruction's values (keeps float32 errors small against the tolerance).</summary>
    public const double MaxMagnitude = 100;

    public static Built Build(Recipe recipe, string name = "fuzz", bool declareLoss = true)
    {
        var m = new ModelBuilder(name);
        int n = recipe.Instrs.Count;
        var values = new Tensor?[n];
        var applied = new bool[n];
        var checks = new List<DomainCheck>();
        var classes = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < n; id++)
        {
            var ins = recipe.Instrs[id];
            if (ins.Args.Any(a => a < 0 || a >= id)) throw new FormatException($"Instruction {id} refers to a later value.");
            var args = ins.Args.Select(a => values[a]).ToArray();
            if (args.Any(a => a is null)) { values[id] = null; continue; }
            var operands = args.Select(a => a!).ToArray();
            int mark = checks.Count;
            try
            {
                values[id] = Apply(m, recipe, id, ins, operands, checks, classes);
                applied[id] = true;
                if (!ins.IsLeaf)
                {
                    var node = values[id]!.Node;
                    checks.Add(new DomainCheck(id, $"|x| <= {MaxMagnitude}", (v, _) => Bounded(v[node.Id], MaxMagnitude)));
                }
            }
            catch (Exception e) when (e is InapplicableException or ShapeException or ArgumentException)
            {
                checks.RemoveRange(mark, checks.Count - mark);
                values[id] = operands.Length > 0 ? operands[0] : null;
            }
        }

        bool hasOutput = false;
        if (recipe.Output >= 0 && recipe.Output < n && values[recipe.Output] is Tensor output && IsBatchFirst(output) && !output.Node.Op.IsLeafLike())
        {
            m.Output(output);
            hasOutput = true;
        }
        if (!declareLoss)
            return new Built { Recipe = recipe, Model = m, Values = values, Applied = applied, Checks = checks, LabelClasses = classes, HasOutput = hasOutput };
        var terms = new List<Tensor>();
        int k = 0;
        foreach (int t in recipe.LossTerms)
        {
            k++;
            if (t < 0 || t >= n || values[t] is not Tensor v || v.Type.DType != DType.Float32) continue;
            terms.Add(WeightedSum(m, v, recipe.Seed, k));
        }
        if (terms.Count == 0 && hasOutput) terms.Add(WeightedSum(m, m.Prediction!, recipe.Seed, 0));
        if (terms.Count == 0) throw new InapplicableException("the recipe has no loss term left");
        var loss = terms[0];
        for (int i = 1; i < terms.Count; i++) loss = loss + terms[i];
        m.Loss(loss);
        return new Built { Recipe = recipe, Model = m, Values = values, Applied = applied, Checks = checks, LabelClasses = classes, HasOutput = hasOutput };
    }

    private static bool IsLeafLike(this Op op) => op is LeafOp;

    public static bool IsBatchFirst(Tensor t) => t.Shape.Rank >= 1 && t.Shape[0] == Shape.Batch && t.Shape.Dims.Count(d => d == Shape.Batch) == 1;

    /// <summary>Σ v·W with fixed weights W over the non-batch axes (the batch moved first when needed).</summary>
    public static Tensor WeightedSum(ModelBuilder m, Tensor v, ulong seed, int k)
    {
        if (v.Shape.Rank == 0) return v;
        if (v.Shape.HasBatch && v.Shape.BatchAxis != 0)
        {
            int axis = v.Shape.BatchAxis;
            v = v.Transpose(new[] { axis }.Concat(Enumerable.Range(0, v.Shape.Rank).Where(a => a != axis)).ToArray());
        }
        var dims = v.Shape.HasBatch ? v.Shape.Dims.Skip(1).ToArray() : v.Shape.Dims;
        int size = dims.Aggregate(1, (a, b) => a * b);
        var w = Feeding.Values(Feeding.Rng(seed, "loss-weight-" + k), size, "");
        return (v * m.Constant(w, dims)).Sum();
    }

    private static Tensor Apply(ModelBuilder m, Recipe r, int id, Instr ins, Tensor[] a, List<DomainCheck> checks, Dictionary<string, int> classes)
    {
        int I(int i) => i < ins.Ints.Length ? ins.Ints[i] : throw new InapplicableException($"missing int attribute {i}");
        double R(int i) => i < ins.Reals.Length ? ins.Reals[i] : throw new InapplicableException($"missing real attribute {i}");
        void Arity(int count) { if (a.Length != count) throw new InapplicableException($"{ins.Op} takes {count} operands"); }
        void Check(string what, Func<TensorValue[], Mode, string?> f) => checks.Add(new DomainCheck(id, what, f));
        void Away(Tensor t, params double[] points) { var node = t.Node; Check("away from " + string.Join(",", points), (v, _) => AwayFrom(v[node.Id], points)); }
        void AtLeast(Tensor t, double min) { var node = t.Node; Check(">= " + min, (v, _) => Min(v[node.Id]) < min ? $"min {Min(v[node.Id])}" : null); }
        void AbsAtLeast(Tensor t, double min) { var node = t.Node; Check("|x| >= " + min, (v, _) => v[node.Id].Data.Any(d => Math.Abs(d) < min) ? "too small" : null); }
        void BatchFirst(Tensor t) { if (!IsBatchFirst(t)) throw new InapplicableException("needs a batch-first operand"); }
        Tensor Target(Tensor like, string prefix)
        {
            BatchFirst(like);
            return m.Targets(prefix + id, like.Shape.Dims.Skip(1).ToArray());
        }

        switch (ins.Op)
        {
            case "input":
                return m.Input((ins.Pos ? "posx" : "x") + id, ins.Ints);
            case "param":
                return m.Parameter((ins.Pos ? "posw" : "w") + id, ins.Ints, Init.Zeros);
            case "alias":
                Arity(1);
                return a[0];

            // ----- unary pointwise
            case "neg": Arity(1); return a[0].Neg();
            case "exp": Arity(1); { var node = a[0].Node; Check("<= 4", (v, _) => Max(v[node.Id]) > 4 ? "too large" : null); } return a[0].Exp();
            case "log": Arity(1); AtLeast(a[0], 0.05); return a[0].Log();
            case "sqrt": Arity(1); AtLeast(a[0], 0.05); return a[0].Sqrt();
            case "abs": Arity(1); Away(a[0], 0); return a[0].Abs();
            case "sign": Arity(1); Away(a[0], 0); return a[0].Sign();
            case "step": Arity(1); Away(a[0], 0); return a[0].Step();
            case "relu": Arity(1); Away(a[0], 0); return a[0].Relu();
            case "leaky_relu": Arity(1); Away(a[0], 0); return a[0].LeakyRelu(R(0));
            case "elu": Arity(1); Away(a[0], 0); return a[0].Elu(R(0));
            case "sigmoid": Arity(1); return a[0].Sigmoid();
            case "tanh": Arity(1); return a[0].Tanh();
            case "square": Arity(1); return a[0].Square();
            case "pow_scalar":
            {
                Arity(1);
                double p = R(0);
                if (p != Math.Floor(p)) AtLeast(a[0], 0.1);
                else if (p < 0) AbsAtLeast(a[0], 0.1);
                return a[0].Pow(p);
            }
            case "clamp": Arity(1); Away(a[0], R(0), R(1)); if (R(0) >= R(1)) throw new InapplicableException("empty clamp"); return a[0].Clamp(R(0), R(1));
            case "add_scalar": Arity(1); return a[0] + R(0);
            case "mul_scalar": Arity(1); return a[0] * R(0);
            case "rsub_scalar": Arity(1); return R(0) - a[0];
            case "rdiv_scalar": Arity(1); AbsAtLeast(a[0], 0.1); return R(0) / a[0];

            // ----- binary pointwise (broadcasting)
            case "add": Arity(2); return a[0].Add(a[1]);
            case "sub": Arity(2); return a[0].Sub(a[1]);
            case "mul": Arity(2); return a[0].Mul(a[1]);
            case "div": Arity(2); AbsAtLeast(a[1], 0.1); return a[0].Div(a[1]);
            case "pow":
            {
                Arity(2);
                AtLeast(a[0], 0.1);
                var e = a[1].Node;
                Check("|exponent| <= 3", (v, _) => v[e.Id].Data.Any(d => Math.Abs(d) > 3) ? "exponent too large" : null);
                return a[0].Pow(a[1]);
            }
            case "maximum":
            case "minimum":
            case "equal":
            {
                Arity(2);
                var result = ins.Op == "maximum" ? a[0].Maximum(a[1]) : ins.Op == "minimum" ? a[0].Minimum(a[1]) : a[0].EqualTo(a[1]);
                var (na, nb, nr) = (a[0].Node, a[1].Node, result.Node);
                bool allowEqual = ins.Op == "equal";
                Check("no near-ties", (v, _) => Gap(v[na.Id], v[nb.Id], v[nr.Id].Dims, allowEqual));
                return result;
            }

            // ----- reductions
            case "sum":
            case "mean":
            case "max":
            {
                Arity(1);
                bool keep = I(0) != 0;
                var axes = ins.Ints.Skip(1).ToArray();
                CheckAxes(a[0], axes);
                if (ins.Op == "max")
                {
                    var node = a[0].Node;
                    var normalized = axes.Select(x => Shape.NormalizeAxis(x, a[0].Shape.Rank)).ToArray();
                    Check("no near-ties", (v, _) => ReduceGap(v[node.Id], normalized));
                    return a[0].Max(axes, keep);
                }
                return ins.Op == "sum" ? a[0].Sum(axes, keep) : a[0].Mean(axes, keep);
            }
            case "logsumexp": Arity(1); CheckAxes(a[0], new[] { I(1) }); return a[0].LogSumExp(I(1), I(0) != 0);
            case "softmax": Arity(1); CheckAxes(a[0], new[] { I(0) }); return a[0].Softmax(I(0));
            case "log_softmax": Arity(1); CheckAxes(a[0], new[] { I(0) }); return a[0].LogSoftmax(I(0));

            // ----- shapes
            case "reshape": Arity(1); return a[0].Reshape(ins.Ints);
            case "flatten": Arity(1); if (a[0].Shape.Rank < 2) throw new InapplicableException("flatten of a vector"); return a[0].Flatten();
            case "transpose": Arity(1); return a[0].Transpose(ins.Ints);
            case "concat": CheckAxes(a[0], new[] { I(0) }); return Tensor.Concat(I(0), a);
            case "slice": Arity(1); CheckAxes(a[0], new[] { I(0) }); return a[0].Slice(I(0), I(1), I(2));
            case "broadcast": Arity(1); if (a[0].Shape.Equals(new Shape(ins.Ints))) throw new InapplicableException("no-op broadcast"); return a[0].BroadcastTo(new Shape(ins.Ints));

            // ----- linear algebra and layers
            case "matmul": Arity(2); return a[0].MatMul(a[1], I(0) != 0, I(1) != 0);
            case "dense": Arity(1); return a[0].Dense(I(0), "l" + id, bias: I(1) != 0);
            case "conv2d": Arity(1); RequireImage(a[0]); return a[0].Conv2d(I(0), I(1), I(2), I(3), "l" + id, bias: I(4) != 0);
            case "conv": Arity(2); RequireImage(a[0]); return a[0].Conv2d(a[1], I(0), I(1));
            case "maxpool":
            {
                Arity(1);
                RequireImage(a[0]);
                var result = a[0].MaxPool2d(I(0), I(1), I(2));
                var node = a[0].Node;
                var window = new Window2d(I(0), I(0), I(1), I(1), I(2), I(2));
                Check("no near-ties in windows", (v, _) => PoolGap(v[node.Id], window));
                return result;
            }
            case "avgpool": Arity(1); RequireImage(a[0]); return a[0].AvgPool2d(I(0), I(1), I(2));
            case "dropout": Arity(1); return a[0].Dropout(R(0));
            case "batchnorm":
            {
                Arity(1);
                BatchFirst(a[0]);
                if (a[0].Shape.Rank != 2 && a[0].Shape.Rank != 4) throw new InapplicableException("batch norm takes rank 2 or 4");
                long count = r.Batch * (a[0].Shape.Rank == 4 ? (long)a[0].Shape[2] * a[0].Shape[3] : 1);
                if (count < 2) throw new InapplicableException("batch norm over a single value per channel");
                var node = a[0].Node;
                Check("channel variance >= 0.01", (v, mode) => mode == Mode.Train ? MinChannelVariance(v[node.Id]) : null);
                return a[0].BatchNorm("l" + id);
            }

            // ----- losses (scalars)
            case "mse": Arity(1); return a[0].MseLoss(Target(a[0], "t"));
            case "half_mse": Arity(1); return a[0].HalfMseLoss(Target(a[0], "t"));
            case "l1":
            case "smooth_l1":
            case "huber":
            {
                Arity(1);
                var t = Target(a[0], "t");
                double beta = ins.Op == "l1" ? 0 : R(0);
                var (nx, nt) = (a[0].Node, t.Node);
                Check("|x - t| away from 0 and beta", (v, _) => DiffAway(v[nx.Id], v[nt.Id], beta));
                return ins.Op == "l1" ? a[0].L1Loss(t) : ins.Op == "smooth_l1" ? a[0].SmoothL1Loss(t, beta) : a[0].HuberLoss(t, beta);
            }
            case "bce":
            {
                Arity(1);
                var t = Target(a[0], "probt");
                var p = a[0].Sigmoid();
                var np = p.Node;
                Check("p in [0.02, 0.98]", (v, _) => v[np.Id].Data.Any(d => d < 0.02 || d > 0.98) ? "saturated" : null);
                return p.BinaryCrossEntropy(t);
            }
            case "bce_logits": Arity(1); Away(a[0], 0); return a[0].BinaryCrossEntropyWithLogits(Target(a[0], "probt"));
            case "softmax_ce":
            case "nll":
            case "multi_margin":
            {
                Arity(1);
                BatchFirst(a[0]);
                if (a[0].Shape.Rank != 2) throw new InapplicableException("class losses take [N, C]");
                int c = a[0].Shape[1];
                Tensor labels;
                if (I(0) != 0 || ins.Op == "multi_margin")
                {
                    labels = m.Labels("y" + id, c);
                    classes["y" + id] = c;
                }
                else labels = m.Targets("probt" + id, new[] { c });
                if (ins.Op == "softmax_ce") return a[0].SoftmaxCrossEntropy(labels);
                if (ins.Op == "nll") return a[0].NllLoss(labels);
                double margin = R(0);
                var (nx, ny) = (a[0].Node, labels.Node);
                Check("hinges away from 0", (v, _) => HingeAway(v[nx.Id], v[ny.Id], margin));
                return a[0].MultiMarginLoss(labels, margin);
            }
            case "cosine":
            {
                Arity(1);
                BatchFirst(a[0]);
                if (a[0].Shape.Rank != 2) throw new InapplicableException("cosine distance takes [N, D]");
                var node = a[0].Node;
                Check("row norms >= 0.1", (v, _) => MinRowNorm(v[node.Id]) < 0.1 ? "small row norm" : null);
                return a[0].CosineDistance(Target(a[0], "t"));
            }
            case "l1_penalty": Arity(1); Away(a[0], 0); return a[0].L1Penalty(R(0));
            case "l2_penalty": Arity(1); return a[0].L2Penalty(R(0));
            case "elastic": Arity(1); Away(a[0], 0); return a[0].ElasticNetPenalty(R(0), R(1));
            default:
                throw new FormatException($"Unknown recipe op '{ins.Op}'.");
        }
    }

    private static void RequireImage(Tensor t)
    {
        if (!IsBatchFirst(t) || t.Shape.Rank != 4) throw new InapplicableException("needs [N, C, H, W]");
    }

    private static void CheckAxes(Tensor t, int[] axes)
    {
        if (axes.Length == 0) throw new InapplicableException("no axes");
        foreach (int x in axes)
            if (x < -t.Shape.Rank || x >= t.Shape.Rank) throw new InapplicableException($"axis {x} out of range for {t.Shape}");
    }

    // ----- value conditions -----------------------------------------------------------------

    /// <summary>Margin around kinks and ties: absolute 1e-3 plus a little relative to the tensor's scale.</summary>
    public static double Margin(TensorValue v) => 1e-3 + 1e-4 * MaxAbs(v);

    public static double MaxAbs(TensorValue v) => v.Data.Length == 0 ? 0 : v.Data.Max(Math.Abs);
    private static double Min(TensorValue v) => v.Data.Length == 0 ? 0 : v.Data.Min();
    private static double Max(TensorValue v) => v.Data.Length == 0 ? 0 : v.Data.Max();

    private static string? Bounded(TensorValue v, double bound)
    {
        foreach (double d in v.Data)
            if (!double.IsFinite(d) || Math.Abs(d) > bound) return $"value {d}";
        return null;
    }

    private static string? AwayFrom(TensorValue v, double[] points)
    {
        double margin = Margin(v);
        foreach (double d in v.Data)
            foreach (double p in points)
                if (Math.Abs(d - p) < margin * (1 + Math.Abs(p))) return $"value {d} near {p}";
        return null;
    }

    private static string? Gap(TensorValue a, TensorValue b, int[] outDims, bool allowEqual)
    {
        var ia = Broadcasting.SourceIndices(a.Dims, outDims);
        var ib = Broadcasting.SourceIndices(b.Dims, outDims);
        double margin = Math.Max(Margin(a), Margin(b));
        for (int i = 0; i < ia.Length; i++)
        {
            double x = a.Data[ia[i]], y = b.Data[ib[i]];
            if (allowEqual && x == y) continue;
            if (Math.Abs(x - y) < margin) return $"{x} vs {y}";
        }
        return null;
    }

    private static string? ReduceGap(TensorValue v, int[] axes)
    {
        var groups = new Dictionary<int, (double First, double Second)>();
        var strides = TensorValue.Strides(v.Dims);
        double margin = Margin(v);
        for (int flat = 0; flat < v.Length; flat++)
        {
            int key = 0, rest = flat;
            for (int d = 0; d < v.Rank; d++)
            {
                int idx = rest / strides[d];
                rest %= strides[d];
                if (!axes.Contains(d)) key = key * (v.Dims[d] + 1) + idx;
            }
            double x = v.Data[flat];
            if (!groups.TryGetValue(key, out var g)) g = (double.NegativeInfinity, double.NegativeInfinity);
            if (x > g.First) g = (x, g.First);
            else if (x > g.Second) g = (g.First, x);
            groups[key] = g;
        }
        foreach (var g in groups.Values)
            if (g.First - g.Second < margin) return $"tie {g.First} vs {g.Second}";
        return null;
    }

    private static string? PoolGap(TensorValue v, Window2d w)
    {
        int planes = v.Dims[0] * v.Dims[1], h = v.Dims[2], wd = v.Dims[3];
        int oh = w.OutH(h), ow = w.OutW(wd);
        double margin = Margin(v);
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    double first = double.NegativeInfinity, second = double.NegativeInfinity;
                    for (int ki = 0; ki < w.KernelH; ki++)
                        for (int kj = 0; kj < w.KernelW; kj++)
                        {
                            int r = i * w.StrideH - w.PadH + ki, s = j * w.StrideW - w.PadW + kj;
                            if (r < 0 || r >= h || s < 0 || s >= wd) continue;
                            double x = v.Data[(p * h + r) * wd + s];
                            if (x > first) { second = first; first = x; }
                            else if (x > second) second = x;
                        }
                    if (first - second < margin) return $"tie {first} vs {second}";
                }
        return null;
    }

    private static string? MinChannelVariance(TensorValue v)
    {
        int n = v.Dims[0], c = v.Dims[1], inner = v.Length / (n * c);
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0, sq = 0;
            int count = n * inner;
            for (int b = 0; b < n; b++)
                for (int k = 0; k < inner; k++) sum += v.Data[(b * c + ch) * inner + k];
            double mean = sum / count;
            for (int b = 0; b < n; b++)
                for (int k = 0; k < inner; k++) { double d = v.Data[(b * c + ch) * inner + k] - mean; sq += d * d; }
            if (sq / count < 0.01) return $"channel {ch} variance {sq / count}";
        }
        return null;
    }

    private static string? DiffAway(TensorValue x, TensorValue t, double beta)
    {
        double margin = Math.Max(Margin(x), Margin(t));
        for (int i = 0; i < x.Length; i++)
        {
            double d = Math.Abs(x.Data[i] - t.Data[i]);
            if (d < margin || (beta > 0 && Math.Abs(d - beta) < margin)) return $"|d| = {d}";
        }
        return null;
    }

    private static string? HingeAway(TensorValue x, TensorValue labels, double margin)
    {
        int n = x.Dims[0], c = x.Dims[1];
        double eps = Margin(x);
        for (int b = 0; b < n; b++)
        {
            int y = (int)labels.Data[b];
            for (int i = 0; i < c; i++)
                if (i != y && Math.Abs(margin - x.Data[b * c + y] + x.Data[b * c + i]) < eps) return "hinge at its kink";
        }
        return null;
    }

    private static double MinRowNorm(TensorValue x)
    {
        int n = x.Dims[0], d = x.Dims[1];
        double min = double.PositiveInfinity;
        for (int b = 0; b < n; b++)
        {
            double s = 0;
            for (int i = 0; i < d; i++) s += x.Data[b * d + i] * x.Data[b * d + i];
            min = Math.Min(min, Math.Sqrt(s));
        }
        return min;
    }
}

/// <summary>Deterministic leaf values: each leaf's values depend only on the recipe seed and the leaf's name.</summary>
public static class Feeding
{
    public static Random Rng(ulong seed, string name)
    {
        ulong h = 14695981039346656037UL ^ seed;
        foreach (char ch in name) h = (h ^ ch) * 1099511628211UL;
        h ^= h >> 29;
        return new Random((int)(h & 0x7FFFFFFF) ^ (int)(h >> 33));
    }

    /// <summary>
    /// Distinct magnitudes (no ties) rounded to float32: names starting "pos" get [0.5, 2], "prob" [0.1, 0.9],
    /// the rest ±[0.1, 1] with random signs (nothing near 0).
    /// </summary>
    public static double[] Values(Random random, int size, string name)
    {
        var data = new double[size];
        var order = Enumerable.Range(0, size).OrderBy(_ => random.Next()).ToArray();
        for (int i = 0; i < size; i++)
        {
            double t = (order[i] + 0.5) / size;
            double v = name.StartsWith("pos", StringComparison.Ordinal) || name.EndsWith("running_var", StringComparison.Ordinal) ? 0.5 + 1.5 * t
                : name.StartsWith("prob", StringComparison.Ordinal) ? 0.1 + 0.8 * t
                : (random.Next(2) == 0 ? -1 : 1) * (0.1 + 0.9 * t);
            data[i] = (float)v;
        }
        return data;
    }

    public static Dictionary<string, TensorValue> Feeds(ComputeGraph graph, Recipe recipe, IReadOnlyDictionary<string, int> classes)
    {
        var feeds = new Dictionary<string, TensorValue>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            if (node.Op is not LeafOp leaf) continue;
            var dims = node.Shape.Concrete(recipe.Batch);
            int size = TensorValue.Product(dims);
            var random = Rng(recipe.Seed, leaf.LeafName);
            double[] data = node.DType == DType.Int32
                ? Enumerable.Range(0, size).Select(_ => (double)random.Next(classes.TryGetValue(leaf.LeafName, out int c) ? c : 2)).ToArray()
                : Values(random, size, leaf.LeafName);
            feeds[leaf.LeafName] = new TensorValue(dims, data);
        }
        return feeds;
    }
}
