// MNIST digit classification with four models of increasing capacity.
//
//   dotnet run -c Release --project examples/Mnist                         (MLP, seconds)
//   dotnet run -c Release --project examples/Mnist -- --model lenet --plots plots
//   dotnet run -c Release --project examples/Mnist -- --model softmax --epochs 1 --max-batches 5   (smoke run)
//
// The last line printed is always "test accuracy: 0.xxxx".

using System;
using System.Globalization;
using System.IO;
using Graph.Runtime.Data;
using Graph.Runtime.Initialization;
using Graph.Runtime.Models;
using Graph.Runtime.Optimizers;
using Graph.Runtime.Schedules;
using Graph.Training;

namespace MnistExample;

public static class Program
{
    public static int Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Options.Usage);
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }

        var mnist = Graph.Runtime.Data.Mnist.Load();
        // Hold out 10% of the training images for validation; the test set is only used once, at the end.
        var (train, validation) = Splits.TrainValidation(mnist.Train, 0.1, new Rng(options.Seed));
        var testSet = mnist.Test;
        if (options.EvalLimit is int limit)
        {
            // Smoke runs: validate and test on the first images only (the accuracy is then only indicative).
            validation = validation.Subset(Range(Math.Min(limit, validation.Count)));
            testSet = testSet.Subset(Range(Math.Min(limit, testSet.Count)));
        }
        Console.WriteLine($"MNIST: {train.Count} training, {validation.Count} validation, {testSet.Count} test images");

        ISupervisedModel<int> model = options.Model switch
        {
            "softmax" => new SoftmaxRegression(options.BatchSize, options.Seed),
            "mlp" => new Mlp(options.BatchSize, options.Seed),
            "lenet" => new LeNet(options.BatchSize, options.Seed),
            "lenet5" => new LeNet5(options.BatchSize, options.Seed),
            _ => throw new InvalidOperationException("unreachable: the model name was validated"),
        };
        float lr = options.LearningRate;
        // Softmax regression is the classic SGD example; the deeper models train faster with Adam.
        model.Optimizer = options.Model == "softmax" ? new Sgd(lr) : new Adam(lr);

        int batchesPerEpoch = (train.Count + options.BatchSize - 1) / options.BatchSize;
        if (options.MaxBatches is int cap) batchesPerEpoch = Math.Min(batchesPerEpoch, cap);
        // Cosine annealing from lr to 0 over the whole run (per step, like PyTorch's scheduler.step() per batch).
        ILearningRateSchedule? schedule = options.Schedule == "cosine"
            ? new CosineAnnealingLR(lr, Math.Max(1, options.Epochs * batchesPerEpoch))
            : null;

        Console.WriteLine($"model {model.Name}: {ParameterCount(model):N0} parameters, {model.Optimizer.Kind} lr {lr.ToString("G3", CultureInfo.InvariantCulture)}" +
                          $"{(schedule is null ? "" : " (cosine)")}, batch {options.BatchSize}, {options.Epochs} epoch(s), seed {options.Seed}");

        var result = Trainer.Fit(model, train, validation, new TrainingOptions
        {
            Epochs = options.Epochs,
            BatchSize = options.BatchSize,
            Seed = options.Seed,
            Schedule = schedule,
            CheckpointPath = options.Checkpoint,
            Resume = options.Resume,
            PlotDirectory = options.Plots,
            MaxBatchesPerEpoch = options.MaxBatches,
            Augmentation = options.Augment ? new ImageAugmentation(1, 28, 28) : null,
        });
        Console.WriteLine($"trained in {result.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s");

        var test = Trainer.Evaluate(model, testSet, options.BatchSize);
        if (options.Plots is string plots && test.Confusion is not null)
        {
            var path = Path.Combine(plots, model.Name + "-confusion.png");
            Plots.ConfusionMatrix(test.Confusion, path, model.Name);
            Console.WriteLine($"plots written to {Path.GetFullPath(plots)}");
        }
        Console.WriteLine($"test loss: {test.Loss.ToString("F4", CultureInfo.InvariantCulture)}");
        Console.WriteLine($"test accuracy: {test.Accuracy.ToString("F4", CultureInfo.InvariantCulture)}");
        return 0;
    }

    private static int[] Range(int count)
    {
        var indices = new int[count];
        for (int i = 0; i < count; i++) indices[i] = i;
        return indices;
    }

    private static long ParameterCount(ICompiledModel model)
    {
        long count = 0;
        foreach (var p in model.Parameters) count += model.Parameter(p.Name).Length;
        return count;
    }
}

/// <summary>Command-line options, parsed by hand (no dependency).</summary>
internal sealed class Options
{
    public const string Usage = """
        usage: dotnet run -c Release --project examples/Mnist -- [options]
          --model softmax|mlp|lenet|lenet5   model to train (default mlp)
          --epochs N                         passes over the training set (default: softmax 20, mlp 20, lenet 4, lenet5 10)
          --batch-size N                     examples per step (default 64)
          --lr X                             learning rate (default: softmax 0.1 with SGD, else 0.001 with Adam)
          --schedule cosine|none             learning-rate schedule (default cosine: anneal to 0 over the run)
          --seed N                           seed of initialization, shuffling, the split and augmentation (default 1)
          --max-batches N                    at most N batches per epoch (smoke runs)
          --eval-limit N                     validate and test on the first N images only (smoke runs)
          --plots DIR                        write loss/accuracy curves and the test confusion matrix as PNGs
          --checkpoint PATH                  save model and optimizer after every epoch (safetensors)
          --resume                           continue from --checkpoint if it exists
          --augment                          random shifts, rotations and zoom of the training images
          --help                             this text
        """;

    public string Model { get; private set; } = "mlp";
    public int Epochs { get; private set; }
    public int BatchSize { get; private set; } = 64;
    public float LearningRate { get; private set; }
    public string Schedule { get; private set; } = "cosine";
    public ulong Seed { get; private set; } = 1;
    public int? MaxBatches { get; private set; }
    public int? EvalLimit { get; private set; }
    public string? Plots { get; private set; }
    public string? Checkpoint { get; private set; }
    public bool Resume { get; private set; }
    public bool Augment { get; private set; }
    public bool Help { get; private set; }

    public static Options Parse(string[] args)
    {
        var o = new Options();
        int? epochs = null;
        float? lr = null;
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Value()
            {
                if (i + 1 >= args.Length) throw new ArgumentException($"{arg} needs a value");
                return args[++i];
            }
            int PositiveInt()
            {
                string v = Value();
                return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0
                    ? n : throw new ArgumentException($"{arg} expects a positive integer, got '{v}'");
            }
            switch (arg)
            {
                case "--model":
                    o.Model = Value().ToLowerInvariant();
                    if (o.Model is not ("softmax" or "mlp" or "lenet" or "lenet5"))
                        throw new ArgumentException($"unknown model '{o.Model}'; choose softmax, mlp, lenet or lenet5");
                    break;
                case "--epochs": epochs = PositiveInt(); break;
                case "--batch-size": o.BatchSize = PositiveInt(); break;
                case "--lr":
                {
                    string v = Value();
                    lr = float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out float x) && x > 0 && float.IsFinite(x)
                        ? x : throw new ArgumentException($"--lr expects a positive number, got '{v}'");
                    break;
                }
                case "--schedule":
                    o.Schedule = Value().ToLowerInvariant();
                    if (o.Schedule is not ("cosine" or "none")) throw new ArgumentException($"unknown schedule '{o.Schedule}'; choose cosine or none");
                    break;
                case "--seed":
                {
                    string v = Value();
                    o.Seed = ulong.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong s)
                        ? s : throw new ArgumentException($"--seed expects a non-negative integer, got '{v}'");
                    break;
                }
                case "--max-batches": o.MaxBatches = PositiveInt(); break;
                case "--eval-limit": o.EvalLimit = PositiveInt(); break;
                case "--plots": o.Plots = Value(); break;
                case "--checkpoint": o.Checkpoint = Value(); break;
                case "--resume": o.Resume = true; break;
                case "--augment": o.Augment = true; break;
                case "--help" or "-h": o.Help = true; break;
                default: throw new ArgumentException($"unknown option '{arg}'");
            }
        }
        if (o.Resume && o.Checkpoint is null) throw new ArgumentException("--resume needs --checkpoint PATH");
        o.Epochs = epochs ?? o.Model switch { "softmax" => 20, "lenet" => 4, "mlp" => 20, _ => 10 };
        o.LearningRate = lr ?? (o.Model == "softmax" ? 0.1f : 1e-3f);
        return o;
    }
}
