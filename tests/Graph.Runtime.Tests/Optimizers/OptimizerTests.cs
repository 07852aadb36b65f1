using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Runtime.Initialization;
using Graph.Runtime.Optimizers;

namespace Graph.Runtime.Tests.Optimizers;

public class OptimizerTests
{
    // 37 elements: several full vectors plus a tail on every SIMD width (4, 8, 16 lanes).
    private const int Length = 37;
    private const int Steps = 10;

    public static IEnumerable<object[]> Configurations()
    {
        yield return ["sgd plain", (Func<Optimizer>)(() => new Sgd(0.1f)), (Func<IReferenceOptimizer>)(() => new ReferenceSgd(0.1f, 0, 0, 0, false))];
        yield return ["sgd momentum", (Func<Optimizer>)(() => new Sgd(0.05f, momentum: 0.9f)), (Func<IReferenceOptimizer>)(() => new ReferenceSgd(0.05f, 0.9f, 0, 0, false))];
        yield return ["sgd momentum dampening wd", (Func<Optimizer>)(() => new Sgd(0.05f, momentum: 0.8f, dampening: 0.3f, weightDecay: 0.01f)), (Func<IReferenceOptimizer>)(() => new ReferenceSgd(0.05f, 0.8f, 0.3f, 0.01f, false))];
        yield return ["sgd nesterov wd", (Func<Optimizer>)(() => new Sgd(0.02f, momentum: 0.9f, weightDecay: 1e-3f, nesterov: true)), (Func<IReferenceOptimizer>)(() => new ReferenceSgd(0.02f, 0.9f, 0, 1e-3f, true))];
        yield return ["adagrad defaults", (Func<Optimizer>)(() => new Adagrad()), (Func<IReferenceOptimizer>)(() => new ReferenceAdagrad(0.01f, 0, 0, 0, 1e-10f))];
        yield return ["adagrad decay wd init", (Func<Optimizer>)(() => new Adagrad(0.1f, learningRateDecay: 0.05f, weightDecay: 0.02f, initialAccumulatorValue: 0.1f, epsilon: 1e-6f)), (Func<IReferenceOptimizer>)(() => new ReferenceAdagrad(0.1f, 0.05f, 0.02f, 0.1f, 1e-6f))];
        yield return ["rmsprop defaults", (Func<Optimizer>)(() => new RmsProp()), (Func<IReferenceOptimizer>)(() => new ReferenceRmsProp(0.01f, 0.99f, 1e-8f, 0, 0, false))];
        yield return ["rmsprop centered momentum wd", (Func<Optimizer>)(() => new RmsProp(0.005f, alpha: 0.9f, epsilon: 1e-6f, weightDecay: 0.01f, momentum: 0.5f, centered: true)), (Func<IReferenceOptimizer>)(() => new ReferenceRmsProp(0.005f, 0.9f, 1e-6f, 0.01f, 0.5f, true))];
        yield return ["rmsprop centered", (Func<Optimizer>)(() => new RmsProp(0.01f, centered: true)), (Func<IReferenceOptimizer>)(() => new ReferenceRmsProp(0.01f, 0.99f, 1e-8f, 0, 0, true))];
        yield return ["rmsprop momentum", (Func<Optimizer>)(() => new RmsProp(0.01f, momentum: 0.9f)), (Func<IReferenceOptimizer>)(() => new ReferenceRmsProp(0.01f, 0.99f, 1e-8f, 0, 0.9f, false))];
        yield return ["adam defaults", (Func<Optimizer>)(() => new Adam()), (Func<IReferenceOptimizer>)(() => new ReferenceAdam(1e-3f, 0.9f, 0.999f, 1e-8f, 0, false, false))];
        yield return ["adam l2 amsgrad", (Func<Optimizer>)(() => new Adam(0.01f, 0.8f, 0.99f, 1e-6f, weightDecay: 0.1f, amsgrad: true)), (Func<IReferenceOptimizer>)(() => new ReferenceAdam(0.01f, 0.8f, 0.99f, 1e-6f, 0.1f, true, false))];
        yield return ["adamw defaults", (Func<Optimizer>)(() => new AdamW()), (Func<IReferenceOptimizer>)(() => new ReferenceAdam(1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, false, true))];
        yield return ["adamw amsgrad strong decay", (Func<Optimizer>)(() => new AdamW(0.05f, weightDecay: 0.5f, amsgrad: true)), (Func<IReferenceOptimizer>)(() => new ReferenceAdam(0.05f, 0.9f, 0.999f, 1e-8f, 0.5f, true, true))];
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void MatchesDoublePrecisionReferenceOfTorchPseudoCode(string name, Func<Optimizer> create, Func<IReferenceOptimizer> createReference)
    {
        var rng = new Rng(42);
        float[] theta = Enumerable.Range(0, Length).Select(_ => rng.NextNormal(0f, 1f)).ToArray();
        // A second tensor of a different size checks that state is kept per parameter.
        float[] other = Enumerable.Range(0, 5).Select(_ => rng.NextNormal(0f, 1f)).ToArray();
        double[] reference = theta.Select(x => (double)x).ToArray();
        double[] otherReference = other.Select(x => (double)x).ToArray();
        double[] start = (double[])reference.Clone(), otherStart = (double[])otherReference.Clone();
        float[] thetaStart = (float[])theta.Clone(), otherThetaStart = (float[])other.Clone();
        var optimizer = create();
        optimizer.Bind([Length, 5]);
        var referenceOptimizer = createReference();
        var otherReferenceOptimizer = createReference();

        for (int step = 0; step < Steps; step++)
        {
            // Gradients of varying scale and sign, some exactly zero (sqrt(0)+eps paths).
            float[] g = Enumerable.Range(0, Length).Select(i => i % 11 == 0 ? 0f : rng.NextNormal(0f, 1f + step)).ToArray();
            float[] g2 = Enumerable.Range(0, 5).Select(_ => rng.NextNormal(0f, 0.1f)).ToArray();
            optimizer.BeginStep();
            optimizer.Update(0, theta, g);
            optimizer.Update(1, other, g2);
            referenceOptimizer.Step(reference, g.Select(x => (double)x).ToArray());
            otherReferenceOptimizer.Step(otherReference, g2.Select(x => (double)x).ToArray());

            AssertClose(reference, theta, start, thetaStart, step + 1, $"{name}, step {step + 1}, parameter 0");
            AssertClose(otherReference, other, otherStart, otherThetaStart, step + 1, $"{name}, step {step + 1}, parameter 1");
        }
        Assert.Equal(Steps, optimizer.StepCount);
    }

    /// <summary>
    /// θ is O(1), so a float result carries an absolute rounding error of a few 1e-8 per step even when
    /// the result cancels to near zero: the bound is 1e-6 relative to max(|θ|, 1). The distance moved
    /// since the start is checked separately to 1e-4 relative (plus the float rounding of θ, half an ulp per step), so an error in the (small) update
    /// itself cannot hide behind the size of θ.
    /// </summary>
    private static void AssertClose(double[] expected, float[] actual, double[] start, float[] actualStart, int steps, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-6 * Math.Max(Math.Abs(expected[i]), 1),
                $"{what}, element {i}: expected {expected[i]:R}, got {actual[i]:R}");
            double expectedMove = expected[i] - start[i], actualMove = (double)actual[i] - actualStart[i];
            Assert.True(Math.Abs(actualMove - expectedMove) <= 1e-4 * Math.Abs(expectedMove) + steps * 6e-8 * Math.Max(Math.Abs(expected[i]), 1),
                $"{what}, element {i}: expected displacement {expectedMove:R}, got {actualMove:R}");
        }
    }

    /// <summary>
    /// A gradient that is non-zero once and zero afterwards (a weight of a rarely lit input): the decaying state
    /// (moments, momentum buffers, averages) would sink through the subnormal range, where every operation is
    /// slow; it must reach exactly zero instead, never hold a subnormal, and the parameters must still follow the
    /// double-precision reference (which keeps the tiny values) within the usual tolerance.
    /// </summary>
    [Theory]
    [MemberData(nameof(Configurations))]
    public void DecayingStateGoesToZeroWithoutPassingThroughSubnormals(string name, Func<Optimizer> create, Func<IReferenceOptimizer> createReference)
    {
        var rng = new Rng(7);
        float[] theta = Enumerable.Range(0, Length).Select(_ => rng.NextNormal(0f, 1f)).ToArray();
        double[] reference = theta.Select(x => (double)x).ToArray();
        double[] start = (double[])reference.Clone();
        float[] thetaStart = (float[])theta.Clone();
        var optimizer = create();
        optimizer.Bind([Length]);
        var referenceOptimizer = createReference();
        bool weightDecay = name.Contains("wd") || name.Contains("l2") || name.Contains("adamw");
        int steps = 1200;   // 0.9^1200·0.1 < 2^-126: β₁- and momentum-decayed state would be subnormal long before
        for (int step = 0; step < steps; step++)
        {
            float[] g = step == 0 ? Enumerable.Range(0, Length).Select(_ => rng.NextNormal(0f, 0.1f)).ToArray() : new float[Length];
            optimizer.BeginStep();
            optimizer.Update(0, theta, g);
            referenceOptimizer.Step(reference, g.Select(x => (double)x).ToArray());
            foreach (var entry in optimizer.State)
                foreach (float value in entry.Data)
                    Assert.False(float.IsSubnormal(value), $"{name}, step {step + 1}: state '{entry.Name}' holds the subnormal {value:R}");
        }
        if (!weightDecay) AssertClose(reference, theta, start, thetaStart, steps, $"{name} after {steps} steps");
        if (name.StartsWith("adam", StringComparison.Ordinal) && !name.Contains("amsgrad"))
            Assert.All(optimizer.State.Where(e => e.Name == "m").SelectMany(e => e.Data), m => Assert.Equal(0f, m));
    }

    [Fact]
    public void SgdOnSquareFollowsClosedForm()
    {
        // f(x) = x², f'(x) = 2x: x_t = x_0 (1 − 2 lr)^t.
        var sgd = new Sgd(0.1f);
        sgd.Bind([1]);
        float[] x = [3f];
        for (int t = 1; t <= 50; t++)
        {
            sgd.BeginStep();
            sgd.Update(0, x, [2 * x[0]]);
            Assert.Equal(3 * Math.Pow(0.8, t), x[0], 1e-5);
        }
    }

    [Fact]
    public void SgdWithMomentumConvergesOnSquare()
    {
        var sgd = new Sgd(0.05f, momentum: 0.9f, nesterov: true);
        sgd.Bind([1]);
        float[] x = [5f];
        for (int t = 0; t < 300; t++)
        {
            sgd.BeginStep();
            sgd.Update(0, x, [2 * x[0]]);
        }
        Assert.True(Math.Abs(x[0]) < 1e-4, $"x = {x[0]}");
    }

    [Fact]
    public void AdamWithConstantGradientMovesBySignedLearningRate()
    {
        // With a constant gradient g both bias-corrected moments are exact: m̂ = g, √v̂ = |g|,
        // so every step is lr·g/(|g| + ε).
        var adam = new Adam(0.01f);
        adam.Bind([2]);
        float[] x = [1f, -1f];
        for (int t = 1; t <= 20; t++)
        {
            adam.BeginStep();
            adam.Update(0, x, [0.5f, -2f]);
            Assert.Equal(1 - 0.01 * t * 0.5 / (0.5 + 1e-8), x[0], 1e-5);
            Assert.Equal(-1 + 0.01 * t * 2 / (2 + 1e-8), x[1], 1e-5);
        }
    }

    [Fact]
    public void AdamWWithZeroGradientOnlyDecays()
    {
        // g = 0 ⇒ m = v = 0, the Adam term is 0/ε = 0 and θ_t = θ_0 (1 − lr λ)^t.
        var adamw = new AdamW(0.1f, weightDecay: 0.5f);
        adamw.Bind([1]);
        float[] x = [2f];
        for (int t = 1; t <= 10; t++)
        {
            adamw.BeginStep();
            adamw.Update(0, x, [0f]);
        }
        Assert.Equal(2 * Math.Pow(0.95, 10), x[0], 1e-6);
    }

    [Fact]
    public void AdagradFirstStepIsLrTimesSign()
    {
        // s = g², θ ← θ − lr g/(|g| + ε) ≈ θ − lr sign(g).
        var adagrad = new Adagrad(0.5f);
        adagrad.Bind([3]);
        float[] x = [0f, 0f, 0f];
        adagrad.BeginStep();
        adagrad.Update(0, x, [3f, -0.25f, 0f]);
        Assert.Equal(-0.5f, x[0], 6);
        Assert.Equal(0.5f, x[1], 6);
        Assert.Equal(0f, x[2]);
    }

    [Fact]
    public void DefaultsMatchPyTorch()
    {
        var adam = new Adam();
        Assert.Equal((1e-3f, 0.9f, 0.999f, 1e-8f, 0f, false), (adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon, adam.WeightDecay, adam.AmsGrad));
        var adamw = new AdamW();
        Assert.Equal((1e-3f, 0.01f, true), (adamw.LearningRate, adamw.WeightDecay, adamw.DecoupledWeightDecay));
        var adagrad = new Adagrad();
        Assert.Equal((0.01f, 0f, 0f, 0f, 1e-10f), (adagrad.LearningRate, adagrad.LearningRateDecay, adagrad.WeightDecay, adagrad.InitialAccumulatorValue, adagrad.Epsilon));
        var rms = new RmsProp();
        Assert.Equal((0.01f, 0.99f, 1e-8f, 0f, 0f, false), (rms.LearningRate, rms.Alpha, rms.Epsilon, rms.WeightDecay, rms.Momentum, rms.Centered));
        var sgd = new Sgd();
        Assert.Equal((1e-3f, 0f, 0f, 0f, false), (sgd.LearningRate, sgd.Momentum, sgd.Dampening, sgd.WeightDecay, sgd.Nesterov));
    }

    [Fact]
    public void InvalidHyperParametersAreRejectedLikePyTorch()
    {
        Assert.Throws<ArgumentException>(() => new Sgd(0.1f, nesterov: true));
        Assert.Throws<ArgumentException>(() => new Sgd(0.1f, momentum: 0.9f, dampening: 0.1f, nesterov: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(-0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(beta1: 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(beta2: -0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(weightDecay: -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp(alpha: -0.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad(learningRateDecay: -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam { LearningRate = float.NaN });
    }

    [Fact]
    public void MisuseGivesClearErrors()
    {
        var adam = new Adam();
        Assert.Throws<InvalidOperationException>(() => adam.BeginStep());
        adam.Bind([3]);
        Assert.Throws<InvalidOperationException>(() => adam.Bind([3]));
        Assert.Throws<InvalidOperationException>(() => adam.Update(0, new float[3], new float[3]));
        adam.BeginStep();
        var wrongLength = Assert.Throws<ArgumentException>(() => adam.Update(0, new float[3], new float[4]));
        Assert.Contains("3 elements", wrongLength.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.Update(1, new float[3], new float[3]));
    }

    public static IEnumerable<object[]> AllKinds()
    {
        yield return [(Func<Optimizer>)(() => new Sgd(0.1f, momentum: 0.9f, weightDecay: 0.01f))];
        yield return [(Func<Optimizer>)(() => new Adagrad(0.1f, weightDecay: 0.01f))];
        yield return [(Func<Optimizer>)(() => new RmsProp(0.01f, momentum: 0.5f, centered: true))];
        yield return [(Func<Optimizer>)(() => new Adam(0.01f, amsgrad: true))];
        yield return [(Func<Optimizer>)(() => new AdamW(0.01f))];
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void StepsAllocateNothing(Func<Optimizer> create)
    {
        var optimizer = create();
        optimizer.Bind([1000, 7]);
        float[] p = new float[1000], g = new float[1000], p2 = new float[7], g2 = new float[7];
        g.AsSpan().Fill(0.5f);
        g2.AsSpan().Fill(-0.25f);
        for (int i = 0; i < 50; i++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++) Step();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);

        void Step()
        {
            optimizer.BeginStep();
            optimizer.Update(0, p, g);
            optimizer.Update(1, p2, g2);
        }
    }

    [Theory]
    [MemberData(nameof(AllKinds))]
    public void RestoredStateContinuesIdentically(Func<Optimizer> create)
    {
        var original = create();
        original.Bind([9]);
        float[] p = Enumerable.Range(0, 9).Select(i => i * 0.1f).ToArray();
        for (int t = 0; t < 3; t++) Step(original, p, t);

        var restored = create();
        restored.Bind([9]);
        restored.Restore(original.StepCount, original.State.Select(s => s with { Data = (float[])s.Data.Clone() }));
        float[] q = (float[])p.Clone();
        for (int t = 3; t < 6; t++)
        {
            Step(original, p, t);
            Step(restored, q, t);
        }
        Assert.Equal(p, q);

        static void Step(Optimizer o, float[] parameter, int t)
        {
            float[] g = Enumerable.Range(0, 9).Select(i => MathF.Sin(i + t)).ToArray();
            o.BeginStep();
            o.Update(0, parameter, g);
        }
    }

    [Fact]
    public void RestoreRejectsMissingUnknownAndWrongSizedState()
    {
        var adam = new Adam();
        adam.Bind([4]);
        var m = new OptimizerStateEntry("m", 0, new float[4]);
        var v = new OptimizerStateEntry("v", 0, new float[4]);
        Assert.Contains("'v'", Assert.Throws<ArgumentException>(() => adam.Restore(1, [m])).Message);
        Assert.Contains("no state 'x'", Assert.Throws<ArgumentException>(() => adam.Restore(1, [m, v, new("x", 0, new float[4])])).Message);
        Assert.Contains("expected 4", Assert.Throws<ArgumentException>(() => adam.Restore(1, [m, v with { Data = new float[3] }])).Message);
        Assert.Equal(["m", "v"], adam.State.Select(s => s.Name));
    }
}
