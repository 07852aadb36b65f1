// Two one-variable regressions whose answers are known:
//   1. linear regression recovers y = 3x + 0.5 from noisy samples (dense 1 → 1, MSE, Trainer.Fit);
//   2. the linear unit learns y = 2x + 1 with a hand-written loop of TrainStep calls.
// Each recovered parameter must be within 0.01 of the truth; otherwise the exit code is 1.
//
//   dotnet run -c Release --project examples/Regression [-- --epochs N --seed N]

using System;
using System.Globalization;
using Graph.Runtime.Data;
using Graph.Runtime.Initialization;
using Graph.Runtime.Optimizers;
using Graph.Runtime.Schedules;
using Graph.Training;

namespace RegressionExample;

public static class Program
{
    private const float Tolerance = 0.01f;

    public static int Main(string[] args)
    {
        int epochs = 20;
        ulong seed = 1;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--epochs" when i + 1 < args.Length: epochs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seed" when i + 1 < args.Length: seed = ulong.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'; usage: [--epochs N] [--seed N]");
                    return 2;
            }
        }

        bool ok = FitNoisyLine(epochs, seed);
        ok &= FitLinearUnit(seed);
        Console.WriteLine(ok ? "all parameters recovered within 0.01" : "FAILED: a parameter is more than 0.01 from the truth");
        return ok ? 0 : 1;
    }

    /// <summary>y = 3x + 0.5 + noise, x ~ U(−1, 1), noise ~ N(0, 0.05²); SGD with a cosine schedule.</summary>
    private static bool FitNoisyLine(int epochs, ulong seed)
    {
        Console.WriteLine("== linear regression: y = 3x + 0.5 + N(0, 0.05²) ==");
        const int n = 2000, batchSize = 32;
        var rng = new Rng(seed);
        var x = new float[n];
        var y = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = rng.NextUniform(-1f, 1f);
            y[i] = 3f * x[i] + 0.5f + rng.NextNormal(0f, 0.05f);
        }
        var data = new Dataset(x, new[] { 1 }, y, targetWidth: 1);
        var (train, validation) = Splits.TrainValidation(data, 0.2, rng);

        var model = new LinearRegression(batchSize, seed);
        const float lr = 0.1f;
        model.Optimizer = new Sgd(lr);
        int steps = epochs * ((train.Count + batchSize - 1) / batchSize);
        Trainer.Fit(model, train, validation, new TrainingOptions
        {
            Epochs = epochs,
            BatchSize = batchSize,
            Seed = seed,
            Schedule = new CosineAnnealingLR(lr, steps),
            ShowProgress = false,
        });

        float w = First(model.Parameter("linear.weight"));
        float b = First(model.Parameter("linear.bias"));
        return Report("w", w, 3f) & Report("b", b, 0.5f);
    }

    /// <summary>y = 2x + 1 exactly, on 64 points; full-batch gradient descent written out by hand.</summary>
    private static bool FitLinearUnit(ulong seed)
    {
        Console.WriteLine("== linear unit: y = 2x + 1 ==");
        const int n = 64;
        var x = new float[n];
        var y = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = -2f + 4f * i / (n - 1);
            y[i] = 2f * x[i] + 1f;
        }

        var model = new LinearUnit(n, seed) { Optimizer = new Sgd(learningRate: 0.1f) };
        model.IsTraining = true;
        float loss = float.NaN;
        for (int step = 1; step <= 300; step++)
        {
            loss = model.TrainStep(x, y, n);     // forward, backward and SGD update in one call
            if (step == 1 || step % 100 == 0)
                Console.WriteLine($"step {step,3}  loss {loss.ToString("0.000E+0", CultureInfo.InvariantCulture)}  " +
                                  $"w {F(First(model.Parameter("w")))}  b {F(First(model.Parameter("b")))}");
        }
        model.IsTraining = false;

        // Inference on new points, including one outside the training range [−2, 2].
        float[] probe = { -1f, 0f, 0.5f, 3f };
        var prediction = new float[probe.Length];
        model.Predict(probe, probe.Length, prediction);
        for (int i = 0; i < probe.Length; i++)
            Console.WriteLine($"  x = {F(probe[i])}  ŷ = {F(prediction[i])}  (2x + 1 = {F(2f * probe[i] + 1f)})");
        return Report("w", First(model.Parameter("w")), 2f) & Report("b", First(model.Parameter("b")), 1f);
    }

    private static bool Report(string name, float value, float truth)
    {
        bool ok = MathF.Abs(value - truth) <= Tolerance;
        Console.WriteLine($"{name} = {F(value)} (true {F(truth)}, error {F(MathF.Abs(value - truth))}) {(ok ? "ok" : "FAIL")}");
        return ok;
    }

    // Parameter(name) gives the model's own storage (no copy); these read its first element.
    private static float First(Memory<float> values) => values.Span[0];
    private static float First(Span<float> values) => values[0];

    private static string F(float v) => v.ToString("F4", CultureInfo.InvariantCulture);
}
