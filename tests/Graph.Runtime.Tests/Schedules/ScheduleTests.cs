using System;
using System.Linq;
using Graph.Runtime.Optimizers;
using Graph.Runtime.Schedules;

namespace Graph.Runtime.Tests.Schedules;

/// <summary>Expected values are worked out by hand from the formulas in torch.optim.lr_scheduler.</summary>
public class ScheduleTests
{
    private static float[] Values(ILearningRateSchedule s, int count) => Enumerable.Range(0, count).Select(s.LearningRate).ToArray();

    private static void AssertSequence(double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6 * Math.Max(1e-3, Math.Abs(expected[i])), $"step {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void StepLRDecaysEveryStepSize()
    {
        // PyTorch docs example: lr 0.05, step_size 30, gamma 0.1 → 0.05 (0..29), 0.005 (30..59), 0.0005 (60..89).
        var s = new StepLR(0.05f, 30);
        Assert.Equal(0.05f, s.LearningRate(0));
        Assert.Equal(0.05f, s.LearningRate(29));
        Assert.Equal(0.005f, s.LearningRate(30), 1e-9f);
        Assert.Equal(0.0005f, s.LearningRate(60), 1e-10f);
        AssertSequence([1, 1, 0.5, 0.5, 0.25, 0.25, 0.125], Values(new StepLR(1f, 2, 0.5f), 7));
    }

    [Fact]
    public void MultiStepLRDecaysAtMilestones()
    {
        // PyTorch docs: milestones [30, 80], gamma 0.1, lr 0.05: 0.05 until 29, 0.005 until 79, then 0.0005.
        var s = new MultiStepLR(0.05f, [80, 30]);
        Assert.Equal(0.05f, s.LearningRate(29));
        Assert.Equal(0.005f, s.LearningRate(30), 1e-9f);
        Assert.Equal(0.005f, s.LearningRate(79), 1e-9f);
        Assert.Equal(0.0005f, s.LearningRate(80), 1e-10f);
        // A repeated milestone applies gamma twice (PyTorch's Counter of milestones).
        Assert.Equal(0.25f, new MultiStepLR(1f, [2, 2], 0.5f).LearningRate(2));
    }

    [Fact]
    public void PiecewiseConstantSwitchesAtBoundaries()
    {
        var s = new PiecewiseConstantLR([3, 5], [0.1f, 0.01f, 0.001f]);
        AssertSequence([0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001], Values(s, 7));
        Assert.Throws<ArgumentException>(() => new PiecewiseConstantLR([3, 5], [0.1f]));
        Assert.Throws<ArgumentException>(() => new PiecewiseConstantLR([5, 3], [0.1f, 0.2f, 0.3f]));
    }

    [Fact]
    public void ExponentialLRMultipliesEachStep()
    {
        AssertSequence([0.1, 0.09, 0.081, 0.0729], Values(new ExponentialLR(0.1f, 0.9f), 4));
    }

    [Fact]
    public void CosineAnnealingClosedForm()
    {
        // base 1, eta_min 0.1, T_max 4: 0.1 + 0.9(1 + cos(πt/4))/2.
        double c = Math.Cos(Math.PI / 4);
        AssertSequence([1, 0.1 + 0.45 * (1 + c), 0.55, 0.1 + 0.45 * (1 - c), 0.1, 0.1 + 0.45 * (1 - c), 0.55],
            Values(new CosineAnnealingLR(1f, 4, 0.1f), 7));
    }

    [Fact]
    public void LinearWarmupDefaultsAreThirdToOneOverFiveSteps()
    {
        // PyTorch docs: lr 0.05, factor 1/3 → 0.05/3 then +0.05·(2/3)/5 per epoch until 0.05 at epoch 5.
        double b = 0.05;
        AssertSequence([b / 3, b * (1 / 3.0 + 2 / 15.0), b * (1 / 3.0 + 4 / 15.0), b * (1 / 3.0 + 6 / 15.0), b * (1 / 3.0 + 8 / 15.0), b, b],
            Values(new LinearWarmup(0.05f), 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearWarmup(0.1f, startFactor: 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearWarmup(0.1f, endFactor: 1.5f));
    }

    [Fact]
    public void SequentialRunsWarmupThenRestartsNextSchedule()
    {
        // Warm-up 0.25 → 1 over 3 steps (milestone 3), then ExponentialLR(0.5) from its own step 0.
        var s = SequentialLR.WarmupThen(new LinearWarmup(1f, 0.25f, 1f, 3), 3, new ExponentialLR(1f, 0.5f));
        AssertSequence([0.25, 0.5, 0.75, 1, 0.5, 0.25], Values(s, 6));
        Assert.Throws<ArgumentException>(() => new SequentialLR([new ConstantLR(1f)], [3]));
    }

    [Fact]
    public void CyclicTriangularRisesAndFalls()
    {
        // base 0.1, max 1.1, up 2, down 3 (total 5, ratio 0.4).
        AssertSequence([0.1, 0.6, 1.1, 1.1 - 1.0 / 3, 1.1 - 2.0 / 3, 0.1, 0.6, 1.1],
            Values(new CyclicLR(0.1f, 1.1f, 2, 3), 8));
    }

    [Fact]
    public void CyclicTriangular2HalvesAmplitudeEachCycle()
    {
        AssertSequence([0, 0.5, 1, 0.5, 0, 0.25, 0.5, 0.25, 0, 0.125, 0.25],
            Values(new CyclicLR(0f, 1f, 2, mode: CyclicMode.Triangular2), 11));
    }

    [Fact]
    public void CyclicExpRangeScalesByGammaPowerOfStep()
    {
        double g = 0.9;
        AssertSequence([0, 0.5 * g, 1 * g * g, 0.5 * g * g * g, 0, 0.5 * Math.Pow(g, 5)],
            Values(new CyclicLR(0f, 1f, 2, mode: CyclicMode.ExpRange, gamma: 0.9f), 6));
    }

    [Fact]
    public void ApplyToSetsOptimizerRate()
    {
        var sgd = new Sgd(1f);
        new StepLR(sgd.InitialLearningRate, 1, 0.5f).ApplyTo(sgd, 3);
        Assert.Equal(0.125f, sgd.LearningRate);
    }

    [Fact]
    public void NegativeStepIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialLR(1f, 0.5f).LearningRate(-1));
    }
}
