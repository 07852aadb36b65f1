using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Builder;
using Graph.Ir;

namespace Graph.Fuzz;

/// <summary>
/// Seeded generator of random well-typed graphs over the whole builder op set. It grows a recipe one
/// instruction at a time, building and evaluating it (float64, both modes) after each step so that an
/// instruction is kept only when its operands fit and its values stay away from kinks, ties and domain edges.
/// Operands are usually the latest value (chains that fuse), sometimes any earlier one (fan-out, reuse).
/// </summary>
public static class Generator
{
    /// <summary>Ops and their weights; every op of the builder API appears.</summary>
    public static readonly (string Op, int Weight)[] Ops =
    {
        ("neg", 2), ("exp", 2), ("log", 3), ("sqrt", 2), ("abs", 2), ("sign", 1), ("step", 1), ("relu", 4), ("leaky_relu", 2), ("elu", 2),
        ("sigmoid", 3), ("tanh", 3), ("square", 2), ("pow_scalar", 2), ("clamp", 2), ("add_scalar", 2), ("mul_scalar", 2), ("rsub_scalar", 1), ("rdiv_scalar", 1),
        ("add", 5), ("sub", 4), ("mul", 5), ("div", 3), ("pow", 2), ("maximum", 2), ("minimum", 2), ("equal", 1),
        ("sum", 3), ("mean", 3), ("max", 2), ("logsumexp", 2), ("softmax", 2), ("log_softmax", 2),
        ("reshape", 3), ("flatten", 2), ("transpose", 3), ("concat", 2), ("slice", 2), ("broadcast", 2),
        ("matmul", 4), ("dense", 4), ("conv2d", 3), ("conv", 2), ("maxpool", 2), ("avgpool", 2), ("dropout", 2), ("batchnorm", 2),
        ("mse", 1), ("half_mse", 1), ("l1", 1), ("smooth_l1", 1), ("huber", 1), ("bce", 1), ("bce_logits", 1),
        ("softmax_ce", 2), ("nll", 1), ("multi_margin", 1), ("cosine", 1), ("l1_penalty", 1), ("l2_penalty", 1), ("elastic", 1),
    };

    private static readonly int TotalWeight = Ops.Sum(o => o.Weight);

    public static ulong SeedOf(int graphSeed) => (ulong)(uint)graphSeed * 0x9E3779B97F4A7C15UL + 0x1234567UL;

    /// <summary>The recipe for <paramref name="seed"/> (deterministic).</summary>
    public static Recipe Generate(int seed, int maxOps = 14)
    {
        for (int attempt = 0; ; attempt++)
        {
            var recipe = TryGenerate(new Random(seed * 31 + attempt), SeedOf(seed) + (ulong)attempt, maxOps);
            if (recipe is not null) return recipe;
        }
    }

    private static Recipe? TryGenerate(Random rng, ulong seed, int maxOps)
    {
        var r = new Recipe { Seed = seed, Batch = rng.Next(1, 5) };
        int inputs = rng.Next(1, 3);
        for (int i = 0; i < inputs; i++) r.Instrs.Add(new Instr("input", ints: RandomDims(rng, rng.Next(0, 4)), pos: rng.Next(4) == 0));
        if (rng.Next(3) == 0) r.Instrs.Add(new Instr("param", ints: RandomDims(rng, rng.Next(0, 3)), pos: rng.Next(4) == 0));
        var state = RecipeBuilder.Build(r, declareLoss: false);
        var stats = state.Stats();
        int target = rng.Next(1, maxOps + 1);
        for (int attempts = 0; r.OpCount < target && attempts < 12 * target; attempts++)
        {
            string op = PickOp(rng);
            var candidate = r.Clone();
            var ctx = new Context(rng, candidate, state, stats);
            try { if (!Propose(op, ctx)) continue; }
            catch (Exception e) when (e is ShapeException or ArgumentException or InvalidOperationException) { continue; }
            Built next;
            try { next = RecipeBuilder.Build(candidate, declareLoss: false); }
            catch (Exception e) when (e is InapplicableException or ShapeException or ArgumentException) { continue; }
            if (!next.Applied[^1] || next.DomainViolation() is not null) continue;
            r = candidate;
            state = next;
            stats = next.Stats();
        }
        if (r.OpCount == 0) return null;

        var used = new HashSet<int>(r.Instrs.SelectMany(i => i.Args));
        var sinks = Enumerable.Range(0, r.Instrs.Count).Where(i => !r.Instrs[i].IsLeaf && !used.Contains(i) && state.Values[i] is not null).ToList();
        var batchFirst = Enumerable.Range(0, r.Instrs.Count)
            .Where(i => !r.Instrs[i].IsLeaf && state.Values[i] is Tensor t && RecipeBuilder.IsBatchFirst(t)).ToList();
        if (batchFirst.Count > 0 && rng.Next(10) != 0)
        {
            var sinkOutputs = batchFirst.Where(sinks.Contains).ToList();
            r.Output = sinkOutputs.Count > 0 && rng.Next(4) != 0 ? sinkOutputs[^1] : batchFirst[rng.Next(batchFirst.Count)];
        }
        r.LossTerms = sinks.Where(s => s != r.Output || rng.Next(2) == 0).ToList();
        if (r.LossTerms.Count == 0 && r.Output < 0) return null;
        try
        {
            var built = RecipeBuilder.Build(r);
            if (built.DomainViolation() is not null) return null;
        }
        catch (Exception e) when (e is InapplicableException or ShapeException or ArgumentException) { return null; }
        return r;
    }

    private static string PickOp(Random rng)
    {
        int x = rng.Next(TotalWeight);
        foreach (var (op, w) in Ops)
        {
            if (x < w) return op;
            x -= w;
        }
        return Ops[0].Op;
    }

    private static int Dim(Random rng) => rng.Next(8) switch { 0 => 1, 1 or 2 => 2, 3 or 4 => 3, 5 => 4, 6 => 5, _ => 6 };

    private static int[] RandomDims(Random rng, int rank) => Enumerable.Range(0, rank).Select(_ => Dim(rng)).ToArray();

    private sealed class Context
    {
        public Context(Random rng, Recipe recipe, Built state, (double Min, double Max, double MinAbs)[] stats)
        {
            Rng = rng;
            Recipe = recipe;
            State = state;
            Stats = stats;
        }

        public Random Rng { get; }
        public Recipe Recipe { get; }
        public Built State { get; }
        public (double Min, double Max, double MinAbs)[] Stats { get; }
        public int Next => Recipe.Instrs.Count;

        public Shape ShapeOf(int id) => State.Values[id]!.Shape;

        /// <summary>A value id satisfying <paramref name="ok"/>: usually the latest, sometimes any (fan-out); -1 if none.</summary>
        public int Pick(Func<int, Shape, bool>? ok = null)
        {
            var pool = Enumerable.Range(0, State.Values.Length)
                .Where(i => State.Values[i] is not null && State.Applied[i] && (ok is null || ok(i, State.Values[i]!.Shape))).ToList();
            if (pool.Count == 0) return -1;
            var nonLeaves = pool.Where(i => !Recipe.Instrs[i].IsLeaf).ToList();
            if (nonLeaves.Count > 0 && Rng.Next(10) < 6) return nonLeaves[^1];
            return pool[Rng.Next(pool.Count)];
        }

        public int Add(Instr instr)
        {
            Recipe.Instrs.Add(instr);
            return Recipe.Instrs.Count - 1;
        }

        /// <summary>A fresh leaf of <paramref name="shape"/>: an input when it is batch-first, else a parameter.</summary>
        public int FreshLeaf(Shape shape, bool pos = false)
        {
            if (shape.HasBatch)
            {
                if (shape[0] != Shape.Batch || shape.Dims.Count(d => d == Shape.Batch) != 1) return -1;
                return Add(new Instr("input", ints: shape.Dims.Skip(1).ToArray(), pos: pos));
            }
            return Add(new Instr("param", ints: shape.Dims, pos: pos));
        }
    }

    private static bool Propose(string op, Context c)
    {
        var rng = c.Rng;
        int Emit(Instr i) => c.Add(i);
        switch (op)
        {
            case "log":
            case "sqrt":
            {
                int x = c.Pick((i, _) => c.Stats[i].Min >= 0.05);
                if (x < 0) return false;
                Emit(new Instr(op, new[] { x }));
                return true;
            }
            case "abs": case "sign": case "step": case "relu": case "leaky_relu": case "elu":
            {
                int x = c.Pick((i, _) => c.Stats[i].MinAbs >= 0.01);
                if (x < 0) return false;
                double[]? reals = op == "leaky_relu" ? new[] { rng.Next(2) == 0 ? 0.01 : 0.2 } : op == "elu" ? new[] { rng.Next(2) == 0 ? 1.0 : 0.5 } : null;
                Emit(new Instr(op, new[] { x }, reals: reals));
                return true;
            }
            case "exp":
            {
                int x = c.Pick((i, _) => c.Stats[i].Max <= 4);
                if (x < 0) return false;
                Emit(new Instr(op, new[] { x }));
                return true;
            }
            case "neg": case "sigmoid": case "tanh": case "square":
                Emit(new Instr(op, new[] { c.Pick() }));
                return true;
            case "pow_scalar":
            {
                double p = new[] { 2.0, 3.0, 0.5, 1.5, -1.0, -0.5 }[rng.Next(6)];
                int x = p == Math.Floor(p) && p > 0 ? c.Pick() : c.Pick((i, _) => c.Stats[i].Min >= 0.1);
                if (x < 0) return false;
                Emit(new Instr(op, new[] { x }, reals: new[] { p }));
                return true;
            }
            case "clamp":
            {
                int x = c.Pick();
                double lo = Math.Round(-0.5 + rng.NextDouble() * 0.5, 2), hi = Math.Round(0.1 + rng.NextDouble() * 0.6, 2);
                Emit(new Instr(op, new[] { x }, reals: new[] { lo, hi }));
                return true;
            }
            case "add_scalar": case "mul_scalar": case "rsub_scalar":
                Emit(new Instr(op, new[] { c.Pick() }, reals: new[] { Math.Round(rng.NextDouble() * 4 - 2, 2) }));
                return true;
            case "rdiv_scalar":
            {
                int x = c.Pick((i, _) => c.Stats[i].MinAbs >= 0.1);
                if (x < 0) return false;
                Emit(new Instr(op, new[] { x }, reals: new[] { Math.Round(rng.NextDouble() * 2 + 0.1, 2) }));
                return true;
            }
            case "add": case "sub": case "mul": case "div": case "pow": case "maximum": case "minimum": case "equal":
            {
                int a = op == "pow" ? c.Pick((i, _) => c.Stats[i].Min >= 0.1) : c.Pick();
                if (a < 0) return false;
                var sa = c.ShapeOf(a);
                int b;
                int choice = rng.Next(10);
                if (choice == 0 && op is not ("div" or "pow")) b = a; // reuse: x∘x
                else if (choice < 5)
                {
                    // an existing value whose shape broadcasts with a's
                    b = c.Pick((i, s) => i != a && Broadcasts(sa, s) && (op != "div" || c.Stats[i].MinAbs >= 0.1) && (op != "pow" || Math.Max(Math.Abs(c.Stats[i].Min), Math.Abs(c.Stats[i].Max)) <= 3));
                    if (b < 0) b = c.FreshLeaf(BroadcastPartner(rng, sa), pos: op == "div");
                }
                else b = c.FreshLeaf(BroadcastPartner(rng, sa), pos: op == "div" && rng.Next(2) == 0);
                if (b < 0) return false;
                bool swap = op is not ("pow") && rng.Next(3) == 0 && !(op == "div");
                Emit(new Instr(op, swap ? new[] { b, a } : new[] { a, b }));
                return true;
            }
            case "sum": case "mean": case "max":
            {
                int x = c.Pick((_, s) => s.Rank >= 1);
                if (x < 0) return false;
                var s = c.ShapeOf(x);
                var axes = Enumerable.Range(0, s.Rank).Where(_ => rng.Next(2) == 0).ToList();
                if (axes.Count == 0) axes.Add(rng.Next(s.Rank));
                if (rng.Next(4) == 0) axes = axes.Select(a => a - s.Rank).ToList(); // negative axes
                Emit(new Instr(op, new[] { x }, ints: new[] { rng.Next(2) }.Concat(axes).ToArray()));
                return true;
            }
            case "logsumexp": case "softmax": case "log_softmax":
            {
                int x = c.Pick((i, s) => s.Rank >= 1 && c.Stats[i].Max <= 20);
                if (x < 0) return false;
                var s = c.ShapeOf(x);
                int axis = rng.Next(3) == 0 ? rng.Next(s.Rank) : s.Rank - 1;
                Emit(new Instr(op, new[] { x }, ints: op == "logsumexp" ? new[] { rng.Next(2), axis } : new[] { axis }));
                return true;
            }
            case "reshape":
            {
                int x = c.Pick((_, s) => !s.HasBatch || s[0] == Shape.Batch);
                if (x < 0) return false;
                var s = c.ShapeOf(x);
                int size = (int)s.ConstantSize;
                var dims = Factor(rng, size, s.HasBatch ? rng.Next(0, 4) : rng.Next(0, 5));
                if (s.HasBatch) dims = new[] { Shape.Batch }.Concat(dims).ToArray();
                Emit(new Instr(op, new[] { x }, ints: dims));
                return true;
            }
            case "flatten":
            {
                int x = c.Pick((_, s) => s.Rank >= 2 && s[0] == Shape.Batch);
                if (x < 0) return false;
                Emit(new Instr(op, new[] { x }));
                return true;
            }
            case "transpose":
            {
                int x = c.Pick((_, s) => s.Rank >= 2);
                if (x < 0) return false;
                var perm = Enumerable.Range(0, c.ShapeOf(x).Rank).OrderBy(_ => rng.Next()).ToArray();
                if (perm.SequenceEqual(Enumerable.Range(0, perm.Length))) perm = perm.Reverse().ToArray();
                Emit(new Instr(op, new[] { x }, ints: perm));
                return true;
            }
            case "concat":
            {
                int x = c.Pick((_, s) => s.Rank >= 1 && s.Dims.Any(d => d != Shape.Batch));
                if (x < 0) return false;
                var s = c.ShapeOf(x);
                var axes = Enumerable.Range(0, s.Rank).Where(a => s[a] != Shape.Batch).ToArray();
                int axis = axes[rng.Next(axes.Length)];
                var parts = new List<int> { x };
                int more = rng.Next(1, 3);
                for (int k = 0; k < more; k++)
                {
                    int choice = rng.Next(3);
                    int p = choice == 0 ? x : choice == 1 ? c.Pick((i, t) => i != x && t.Rank == s.Rank && Enumerable.Range(0, s.Rank).All(d => d == axis || t[d] == s[d])) : -1;
                    if (p < 0) p = c.FreshLeaf(s.With(axis, Dim(rng)));
                    if (p < 0) p = x;
                    parts.Add(p);
                }
                parts = parts.OrderBy(_ => rng.Next()).ToList();
                Emit(new Instr(op, parts.ToArray(), ints: new[] { rng.Next(2) == 0 ? axis : axis - s.Rank }));
                return true;
            }
            case "slice":
            {
                int x = c.Pick((_, s) => s.Dims.Any(d => d >= 2));
                if (x < 0) return false;
                var s = c.ShapeOf(x);
                var axes = Enumerable.Range(0, s.Rank).Where(a => s[a] >= 2).ToArray();
                int axis = axes[rng.Next(axes.Length)];
                int length = rng.Next(1, s[axis]);
                int start = rng.Next(0, s[axis] - length + 1);
                Emit(new Instr(op, new[] { x }, ints: new[] { axis, start, length }));
                return true;
            }
            case "broadcast":
            {
                int x = c.Pick((_, s) => s.Rank <= 3);
                if (x < 0) return false;
                var s = c.ShapeOf(x);
                var dims = s.Dims.Select(d => d == 1 && rng.Next(2) == 0 ? rng.Next(2, 4) : d).ToList();
                int lead = rng.Next(0, Math.Min(2, 4 - s.Rank) + 1);
                for (int k = 0; k < lead; k++) dims.Insert(0, !s.HasBatch && k == lead - 1 && rng.Next(2) == 0 ? Shape.Batch : rng.Next(2, 4));
                if (dims.SequenceEqual(s.Dims)) return false;
                Emit(new Instr(op, new[] { x }, ints: dims.ToArray()));
                return true;
            }
            case "matmul":
            {
                int a = c.Pick((_, s) => s.Rank == 2);
                if (a < 0) return false;
                var s = c.ShapeOf(a);
                bool ta = rng.Next(3) == 0, tb = rng.Next(3) == 0;
                int k = ta ? s[0] : s[1];
                int b;
                if (k == Shape.Batch)
                {
                    // contraction over the batch: B is a batch-first input
                    if (tb) return false;
                    b = c.FreshLeaf(new Shape(Shape.Batch, Dim(rng)));
                }
                else
                {
                    b = rng.Next(3) == 0 ? c.Pick((i, t) => t.Rank == 2 && (tb ? t[1] : t[0]) == k && !(t.HasBatch && s.HasBatch)) : -1;
                    if (b < 0)
                    {
                        int mDim = Dim(rng);
                        b = c.FreshLeaf(tb ? new Shape(mDim, k) : new Shape(k, mDim));
                    }
                }
                if (b < 0) return false;
                Emit(new Instr(op, new[] { a, b }, ints: new[] { ta ? 1 : 0, tb ? 1 : 0 }));
                return true;
            }
            case "dense":
            {
                int x = c.Pick((_, s) => s.Rank == 2 && s[1] != Shape.Batch);
                if (x < 0) return false;
                Emit(new Instr(op, new[] { x }, ints: new[] { Dim(rng), rng.Next(4) == 0 ? 0 : 1 }));
                return true;
            }
            case "conv2d": case "conv": case "maxpool": case "avgpool":
            {
                int x = c.Pick((_, s) => s.Rank == 4 && s[0] == Shape.Batch);
                if (x < 0)
                {
                    // make an image input
                    if (rng.Next(2) == 0) return false;
                    x = c.Add(new Instr("input", ints: new[] { rng.Next(1, 4), rng.Next(2, 7), rng.Next(2, 7) }));
                }
                var s = c.Recipe.Instrs[x].IsLeaf && x >= c.State.Values.Length ? new Shape(new[] { Shape.Batch }.Concat(c.Recipe.Instrs[x].Ints).ToArray()) : c.ShapeOf(x);
                int maxK = Math.Min(3, Math.Min(s[2], s[3]));
                int kernel = rng.Next(1, maxK + 1);
                int stride = rng.Next(1, 3);
                int pad = rng.Next(0, kernel / 2 + 1);
                if (op == "conv2d") Emit(new Instr(op, new[] { x }, ints: new[] { rng.Next(1, 5), kernel, stride, pad, rng.Next(4) == 0 ? 0 : 1 }));
                else if (op == "conv")
                {
                    int f = c.FreshLeaf(new Shape(rng.Next(1, 5), s[1], kernel, rng.Next(2) == 0 ? kernel : Math.Min(s[3], rng.Next(1, 4))));
                    Emit(new Instr(op, new[] { x, f }, ints: new[] { stride, pad }));
                }
                else Emit(new Instr(op, new[] { x }, ints: new[] { kernel, stride, pad }));
                return true;
            }
            case "dropout":
                Emit(new Instr(op, new[] { c.Pick((_, s) => s.HasBatch) is int d and >= 0 ? d : c.Pick() }, reals: new[] { rng.Next(2) == 0 ? 0.5 : 0.2 }));
                return true;
            case "batchnorm":
            {
                int x = c.Pick((_, s) => (s.Rank == 2 || s.Rank == 4) && s[0] == Shape.Batch && s.Dims.Count(d => d == Shape.Batch) == 1);
                if (x < 0) return false;
                Emit(new Instr(op, new[] { x }));
                return true;
            }
            case "mse": case "half_mse": case "l1": case "bce": case "bce_logits": case "cosine":
            case "smooth_l1": case "huber":
            {
                int x = c.Pick((_, s) => s.Rank >= 1 && s[0] == Shape.Batch && s.Dims.Count(d => d == Shape.Batch) == 1 && (op != "cosine" || s.Rank == 2));
                if (x < 0) return false;
                double[]? reals = op is "smooth_l1" or "huber" ? new[] { rng.Next(2) == 0 ? 1.0 : 0.5 } : null;
                Emit(new Instr(op, new[] { x }, reals: reals));
                return true;
            }
            case "softmax_ce": case "nll": case "multi_margin":
            {
                int x = c.Pick((_, s) => s.Rank == 2 && s[0] == Shape.Batch && s[1] != Shape.Batch);
                if (x < 0) return false;
                Emit(new Instr(op, new[] { x }, ints: new[] { rng.Next(3) == 0 ? 0 : 1 }, reals: op == "multi_margin" ? new[] { rng.Next(2) == 0 ? 1.0 : 0.5 } : null));
                return true;
            }
            case "l1_penalty": case "l2_penalty": case "elastic":
            {
                int x = rng.Next(2) == 0 ? c.Pick((i, _) => c.Recipe.Instrs[i].Op == "param") : -1;
                if (x < 0) x = c.Pick();
                Emit(new Instr(op, new[] { x }, reals: op == "elastic" ? new[] { 0.01, 0.02 } : new[] { rng.Next(2) == 0 ? 0.01 : 0.1 }));
                return true;
            }
            default:
                return false;
        }
    }

    private static bool Broadcasts(Shape a, Shape b)
    {
        try { Graph.Ops.Broadcasting.Result(a, b); return true; }
        catch (Exception e) when (e is ShapeException or ArgumentException) { return false; }
    }

    /// <summary>A shape broadcasting against <paramref name="s"/>: a suffix with some dims set to 1, or a scalar.</summary>
    private static Shape BroadcastPartner(Random rng, Shape s)
    {
        int choice = rng.Next(6);
        if (choice == 0) return Shape.Scalar;
        if (choice == 1 && s.Rank >= 1 && s[0] == Shape.Batch) return new Shape(s.Dims.Select((d, i) => i > 0 && rng.Next(3) == 0 ? 1 : d).ToArray());
        int take = rng.Next(1, s.Rank + 1);
        var suffix = s.Dims.Skip(s.Rank - take).Select(d => d == Shape.Batch || rng.Next(4) == 0 ? 1 : d).ToArray();
        if (rng.Next(4) == 0 && suffix.Length < 4) suffix = new[] { 1 }.Concat(suffix).ToArray();
        return new Shape(suffix);
    }

    /// <summary>Splits <paramref name="size"/> into <paramref name="parts"/> factors (1s allowed).</summary>
    private static int[] Factor(Random rng, int size, int parts)
    {
        if (parts == 0) return size == 1 ? Array.Empty<int>() : new[] { size };
        var dims = new List<int>();
        int rest = size;
        for (int i = 0; i < parts - 1; i++)
        {
            var divisors = Enumerable.Range(1, rest).Where(d => rest % d == 0).ToArray();
            int d = divisors[rng.Next(divisors.Length)];
            dims.Add(d);
            rest /= d;
        }
        dims.Add(rest);
        return dims.OrderBy(_ => rng.Next()).ToArray();
    }
}
