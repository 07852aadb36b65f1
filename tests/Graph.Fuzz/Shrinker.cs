using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Builder;
using Graph.Ir;

namespace Graph.Fuzz;

/// <summary>
/// Delta debugging over the recipe: removes chunks of instructions (each passes its first operand through),
/// replaces subgraphs by fresh leaves of the same shape, drops loss terms and the prediction, and shrinks the
/// batch, leaf dimensions and layer widths, keeping each change that still fails, until nothing helps.
/// Every candidate is normalized first (dropped and dead instructions removed, ids renumbered) and must pass
/// the generator's domain checks, so a shrunk case is as well-conditioned as a generated one.
/// </summary>
public static class Shrinker
{
    /// <summary>
    /// The failure predicate: <paramref name="engine"/> (null: the reference itself) still crashes or mismatches on
    /// <paramref name="recipe"/>, which is valid (builds, domain checks hold) and on which the float32-rounding
    /// interpreter agrees with the reference (so the mismatch is not ill-conditioning).
    /// </summary>
    public static bool StillFails(Recipe recipe, IEngine reference, IEngine? engine, bool crash)
    {
        try
        {
            var built = RecipeBuilder.Build(recipe);
            if (built.DomainViolation() is not null) return false;
            var c = new FuzzCase(recipe);
            if (engine is null) return Fuzzer.Check(c, reference, Array.Empty<IEngine>()).Count > 0;
            if (engine.Name != "interp-f32" && Fuzzer.Check(c, reference, new[] { new InterpreterEngine("interp-f32", Interpretation.Precision.Float32) }).Count > 0) return false;
            engine.Prepare(new[] { c });
            var unsupported = new List<string>();
            var mismatches = Fuzzer.Check(c, reference, new[] { engine }, unsupported);
            return mismatches.Any(m => m.Engine == engine.Name && m.Crash == crash);
        }
        catch (Exception e) when (e is InapplicableException or ShapeException or ArgumentException or FormatException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Shrinks <paramref name="recipe"/> while <paramref name="fails"/> holds, trying at most <paramref name="budget"/> candidates.</summary>
    public static Recipe Shrink(Recipe recipe, Func<Recipe, bool> fails, int budget = 300)
    {
        var best = Normalize(recipe) is Recipe n && fails(n) ? n : recipe;
        int tries = 0;
        bool Try(Recipe candidate)
        {
            if (tries >= budget) return false;
            Recipe? normalized;
            try { normalized = Normalize(candidate); }
            catch (Exception e) when (e is InapplicableException or ShapeException or ArgumentException or FormatException) { return false; }
            if (normalized is null || Size(normalized).CompareTo(Size(best)) >= 0) return false;
            tries++;
            if (!fails(normalized)) return false;
            best = normalized;
            return true;
        }

        bool progress = true;
        while (progress && tries < budget)
        {
            progress = false;
            // 1. remove chunks of ops (ddmin), halving the chunk size
            for (int chunk = Math.Max(1, best.OpCount / 2); chunk >= 1; chunk /= 2)
            {
                for (int start = 0; start < best.Instrs.Count; start += chunk)
                {
                    var c = best.Clone();
                    bool any = false;
                    for (int i = start; i < Math.Min(start + chunk, c.Instrs.Count); i++)
                    {
                        if (c.Instrs[i].IsLeaf || c.Instrs[i].Args.Length == 0) continue;
                        c.Instrs[i] = new Instr("alias", new[] { c.Instrs[i].Args[0] });
                        any = true;
                    }
                    if (any && Try(c)) { progress = true; start -= chunk; }
                }
                if (chunk == 1) break;
            }
            // 2. replace an op by a fresh leaf of its shape (drops the subgraph feeding it)
            progress |= ForEachIndex(() => best, i =>
            {
                if (best.Instrs[i].IsLeaf) return false;
                var built = TryBuild(best);
                if (built?.Values[i] is not Tensor t) return false;
                var leaf = LeafFor(t.Shape);
                if (leaf is null) return false;
                var c = best.Clone();
                c.Instrs[i] = leaf;
                return Try(c);
            });
            // 3. drop loss terms and the prediction
            for (int k = best.LossTerms.Count - 1; k >= 0 && best.LossTerms.Count > 1; k--)
            {
                if (k >= best.LossTerms.Count) continue;
                var c = best.Clone();
                c.LossTerms.RemoveAt(k);
                if (Try(c)) progress = true;
            }
            if (best.Output >= 0 && best.LossTerms.Count > 0)
            {
                var c = best.Clone();
                c.Output = -1;
                if (Try(c)) progress = true;
            }
            // 4. batch, leaf dimensions, layer widths
            for (int b = 1; b < best.Batch; b++)
            {
                var c = best.Clone();
                c.Batch = b;
                if (Try(c)) { progress = true; break; }
            }
            progress |= ForEachIndex(() => best, i =>
            {
                var ins = best.Instrs[i];
                bool changed = false;
                int[] intsToShrink = ins.IsLeaf ? Enumerable.Range(0, ins.Ints.Length).ToArray()
                    : ins.Op is "dense" or "conv2d" ? new[] { 0 } : Array.Empty<int>();
                foreach (int d in intsToShrink)
                {
                    if (d >= best.Instrs[i].Ints.Length) continue;
                    int value = best.Instrs[i].Ints[d];
                    foreach (int smaller in new[] { 1, value - 1 }.Distinct().Where(v => v >= 1 && v < value))
                    {
                        var c = best.Clone();
                        var ints = (int[])c.Instrs[i].Ints.Clone();
                        ints[d] = smaller;
                        c.Instrs[i] = c.Instrs[i].With(ints: ints);
                        if (Try(c)) { changed = true; break; }
                    }
                }
                return changed;
            });
        }
        return best;
    }

    private static bool ForEachIndex(Func<Recipe> current, Func<int, bool> attempt)
    {
        bool any = false;
        for (int i = 0; i < current().Instrs.Count; i++)
            if (attempt(i)) any = true;
        return any;
    }

    private static Built? TryBuild(Recipe r)
    {
        try { return RecipeBuilder.Build(r); }
        catch (Exception e) when (e is InapplicableException or ShapeException or ArgumentException) { return null; }
    }

    private static Instr? LeafFor(Shape s)
    {
        if (!s.HasBatch) return new Instr("param", ints: s.Dims);
        if (s[0] == Shape.Batch && s.Dims.Count(d => d == Shape.Batch) == 1) return new Instr("input", ints: s.Dims.Skip(1).ToArray());
        return null;
    }

    /// <summary>Ops, instructions, leaf elements, batch: what shrinking minimizes, in that order.</summary>
    private static (int, int, long, int) Size(Recipe r) =>
        (r.OpCount, r.Instrs.Count, r.Instrs.Sum(i => i.IsLeaf ? i.Ints.Aggregate(1L, (a, b) => a * b) : i.Ints.Sum()), r.Batch);

    /// <summary>
    /// Removes what the build dropped or passed through and what nothing uses, renumbering ids. The result
    /// builds to the same graph structure (leaf names, and so fed values, may change with the ids).
    /// </summary>
    public static Recipe? Normalize(Recipe r)
    {
        var built = RecipeBuilder.Build(r);
        int n = r.Instrs.Count;
        var resolved = new int[n];
        for (int i = 0; i < n; i++)
        {
            if (built.Applied[i] && r.Instrs[i].Op != "alias") resolved[i] = i;
            else if (built.Values[i] is null || r.Instrs[i].Args.Length == 0) resolved[i] = -1;
            else resolved[i] = resolved[r.Instrs[i].Args[0]];
        }
        int Map(int id) => id >= 0 && id < n ? resolved[id] : -1;
        int output = built.HasOutput ? Map(r.Output) : -1;
        var terms = r.LossTerms.Select(Map).Where(t => t >= 0).ToList();
        // liveness from the output and the loss terms
        var live = new bool[n];
        var stack = new Stack<int>(terms.Append(output).Where(t => t >= 0));
        while (stack.Count > 0)
        {
            int i = stack.Pop();
            if (live[i]) continue;
            live[i] = true;
            foreach (int a in r.Instrs[i].Args)
                if (Map(a) >= 0) stack.Push(Map(a));
        }
        var newId = new int[n];
        var result = new Recipe { Seed = r.Seed, Batch = r.Batch };
        for (int i = 0; i < n; i++)
        {
            newId[i] = -1;
            if (!live[i] || resolved[i] != i) continue;
            var ins = r.Instrs[i];
            newId[i] = result.Instrs.Count;
            result.Instrs.Add(ins.With(args: ins.Args.Select(a => newId[Map(a)]).ToArray()));
        }
        result.Output = output >= 0 ? newId[output] : -1;
        result.LossTerms = terms.Select(t => newId[t]).Distinct().ToList();
        if (result.LossTerms.Count == 0 && result.Output < 0) return null;
        return result;
    }
}
