// Hyperparameter search for an MNIST MLP: random search, coarse then fine, every candidate built at run time with
// ModelBuilder and compiled by the run-time JIT (GraphJit), scored by validation accuracy; the best configuration is
// then retrained on the whole training split and evaluated once on the test set.
//
//   dotnet run -c Release --project examples/HyperparameterSearch                       (20 trials, a few minutes)
//   dotnet run -c Release --project examples/HyperparameterSearch -- --budget 16 --train-size 10000 --epochs 3 --final-epochs 10
//   dotnet run -c Release --project examples/HyperparameterSearch -- --budget 2 --train-size 512 --epochs 1 --final-epochs 1 --max-batches 3   (smoke run)
//
// Why random search and not grid search: with a grid, N trials over k hyperparameters try only N^(1/k) distinct values
// of each (16 trials over 4 of them: 2 learning rates). Usually only one or two hyperparameters matter much (here the
// learning rate above all), and random search tries N distinct values of every one of them, so it covers the important
// ones far better for the same budget (Bergstra & Bengio, 2012). It also needs no budget that is a product of grid sizes.
//
// The last line printed is always "test accuracy: 0.xxxx".

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Graph.Jit;
using Graph.Runtime.Data;
using Graph.Runtime.Initialization;
using Graph.Runtime.Models;
using Graph.Runtime.Optimizers;
using Graph.Runtime.Schedules;
using Graph.Training;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace HyperparameterSearchExample;

/// <summary>One candidate and its outcome.</summary>
internal sealed class Trial
{
    public required int Number { get; init; }
    public required string Stage { get; init; }
    public required Config Config { get; init; }
    public double CompileMs { get; set; } = double.NaN;
    public double ValidationAccuracy { get; set; } = double.NaN;
    public double ValidationLoss { get; set; } = double.NaN;
    public double Seconds { get; set; } = double.NaN;
    /// <summary>null while waiting, "running", "ok" or "diverged".</summary>
    public string? Status { get; set; }
    public bool Done => Status is "ok" or "diverged";
}

public static class Program
{
    public static int Main(string[] args)
    {
        Options o;
        try
        {
            o = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Options.Usage);
            return 2;
        }
        if (o.Help)
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }
        if (!GraphJit.IsSupported)
        {
            Console.Error.WriteLine("error: this process cannot emit dynamic code (NativeAOT?); the search compiles every candidate with GraphJit.");
            return 1;
        }

        // The validation split is held out of MNIST's TRAINING images; the test set is used once, at the very end.
        var mnist = Graph.Runtime.Data.Mnist.Load();
        var (trainSplit, validation) = Splits.TrainValidation(mnist.Train, 0.1, new Rng(o.Seed));
        // Candidates train on a random subset of the training split (cheap trials rank configurations well enough).
        var subsetOrder = Shuffling.Permutation(trainSplit.Count, new Rng(o.Seed + 1));
        var searchTrain = trainSplit.Subset(subsetOrder.AsSpan(0, Math.Min(o.TrainSize, trainSplit.Count)));
        var searchValidation = o.ValidationSize is int vs ? validation.Subset(Enumerable.Range(0, Math.Min(vs, validation.Count)).ToArray()) : validation;
        Console.WriteLine($"MNIST: {trainSplit.Count} training ({searchTrain.Count} per trial), {searchValidation.Count} validation, {mnist.Test.Count} test images");

        int coarseCount = o.Coarse ?? Math.Max(1, (int)Math.Ceiling(0.6 * o.Budget));
        // Keep at least one fine trial whenever the budget allows, so that both stages always run.
        coarseCount = Math.Min(coarseCount, Math.Max(1, o.Budget - 1));
        int fineCount = o.Budget - coarseCount;
        Console.WriteLine($"random search, {o.Budget} trials: {coarseCount} coarse + {fineCount} fine, {o.Epochs} epoch(s) each, Adam, scored by validation accuracy");
        Console.WriteLine("(random, not grid: a grid tries only a few values of each hyperparameter; random search tries a new value of every one in every trial)");
        var coarse = SearchSpace.Coarse;
        Console.WriteLine($"coarse space: {coarse.Describe()}");

        var rng = new Rng(o.Seed);
        var trials = new List<Trial>();
        for (int i = 0; i < coarseCount; i++)
            trials.Add(new Trial { Number = i + 1, Stage = "coarse", Config = coarse.Sample(rng) });

        var ui = new TrialTable(trials);
        SearchSpace? fine = null;
        ui.Run(refresh =>
        {
            foreach (var trial in trials.ToList())
            {
                RunTrial(trial, searchTrain, searchValidation, o, refresh);
            }
            if (fineCount == 0) return;
            // Fine stage: narrow every range around the best coarse trials (the top third, at least 1, at most 3).
            var ranked = Ranked(trials).ToList();
            int top = Math.Clamp(coarseCount / 3, 1, 3);
            var best = ranked.Take(top).Select(t => t.Config).ToList();
            fine = best.Count == 0 ? coarse : coarse.Narrow(best); // every coarse trial diverged: keep the coarse space
            ui.Note = best.Count == 0 ? $"fine space = coarse space (every coarse trial diverged)"
                : $"fine space (around the best {best.Count} coarse trial(s)): {fine.Describe()}";
            for (int i = 0; i < fineCount; i++)
            {
                var trial = new Trial { Number = coarseCount + i + 1, Stage = "fine", Config = fine.Sample(rng) };
                trials.Add(trial);
            }
            refresh();
            foreach (var trial in trials.Where(t => t.Stage == "fine").ToList())
                RunTrial(trial, searchTrain, searchValidation, o, refresh);
        });

        var winner = Ranked(trials).FirstOrDefault();
        if (winner is null)
        {
            Console.Error.WriteLine("error: every trial diverged");
            return 1;
        }
        Console.WriteLine($"best: trial {winner.Number} ({winner.Stage}), {winner.Config}: validation accuracy {F4(winner.ValidationAccuracy)}");

        Directory.CreateDirectory(o.Plots);
        string plotPath = Path.Combine(o.Plots, "validation-accuracy-vs-lr.png");
        PlotAccuracyVersusLearningRate(trials, winner, plotPath, o.Epochs, searchTrain.Count);
        Console.WriteLine($"plot written to {Path.GetFullPath(plotPath)}");

        // Retrain the winner from scratch on the whole training split, for longer; then the test set, once.
        Console.WriteLine();
        // Trials ran at a constant learning rate (short runs); the longer final run anneals from the chosen rate to 0 with a
        // cosine schedule by default, so that it ends at a settled point instead of wherever the last noisy step left it.
        Console.WriteLine($"retraining the best configuration on all {trainSplit.Count} training images for {o.FinalEpochs} epoch(s)" +
                          (o.FinalSchedule == "cosine" ? ", learning rate annealed to 0 (cosine)" : ", constant learning rate"));
        var c = winner.Config;
        var clock = Stopwatch.StartNew();
        var model = GraphJit.CompileSupervised<int>(c.Build(), c.BatchSize, o.Seed);
        Console.WriteLine($"compiled {model.Name} in {Ms(clock.Elapsed.TotalMilliseconds)} ms ({ParameterCount(model):N0} parameters)");
        model.Optimizer = new Adam((float)c.LearningRate);
        int batchesPerEpoch = (trainSplit.Count + c.BatchSize - 1) / c.BatchSize;
        if (o.MaxBatches is int cap) batchesPerEpoch = Math.Min(batchesPerEpoch, cap);
        var result = Trainer.Fit(model, trainSplit, validation, new TrainingOptions
        {
            Epochs = o.FinalEpochs,
            BatchSize = c.BatchSize,
            Seed = o.Seed,
            MaxBatchesPerEpoch = o.MaxBatches,
            Schedule = o.FinalSchedule == "cosine" ? new CosineAnnealingLR((float)c.LearningRate, Math.Max(1, o.FinalEpochs * batchesPerEpoch)) : null,
        });
        Console.WriteLine($"trained in {result.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s");
        var test = Trainer.Evaluate(model, mnist.Test, 256);
        Console.WriteLine($"test loss: {F4(test.Loss)}");
        Console.WriteLine($"test accuracy: {F4(test.Accuracy)}");
        return 0;
    }

    /// <summary>Compiles, trains and validates one candidate.</summary>
    private static void RunTrial(Trial trial, Dataset train, Dataset validation, Options o, Action refresh)
    {
        var c = trial.Config;
        trial.Status = "running";
        refresh();
        var clock = Stopwatch.StartNew();
        ulong seed = o.Seed * 1000 + (ulong)trial.Number;
        var model = GraphJit.CompileSupervised<int>(c.Build(), c.BatchSize, seed);
        trial.CompileMs = clock.Elapsed.TotalMilliseconds;
        model.Optimizer = new Adam((float)c.LearningRate);
        refresh();
        // Trainer.Fit prints one line per epoch; the table shows the outcome instead, so its lines are dropped here.
        var console = Console.Out;
        Console.SetOut(TextWriter.Null);
        try
        {
            var result = Trainer.Fit(model, train, validation, new TrainingOptions
            {
                Epochs = o.Epochs,
                BatchSize = c.BatchSize,
                Seed = seed,
                MaxBatchesPerEpoch = o.MaxBatches,
                ShowProgress = false,
            });
            var last = result.History.Epochs[^1];
            trial.ValidationAccuracy = last.ValidationAccuracy;
            // The model's loss includes the L2 penalty, so the validation loss is the cross-entropy plus λ·Σw².
            trial.ValidationLoss = last.ValidationLoss;
            trial.Status = "ok";
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("The loss became", StringComparison.Ordinal))
        {
            trial.Status = "diverged"; // learning rate too high for this network: a legitimate outcome of a trial
        }
        finally
        {
            Console.SetOut(console);
        }
        trial.Seconds = clock.Elapsed.TotalSeconds;
        refresh();
    }

    /// <summary>Finished trials, best first: validation accuracy, then lower validation loss.</summary>
    internal static IEnumerable<Trial> Ranked(IEnumerable<Trial> trials) =>
        trials.Where(t => t.Status == "ok" && !double.IsNaN(t.ValidationAccuracy))
            .OrderByDescending(t => t.ValidationAccuracy).ThenBy(t => t.ValidationLoss).ThenBy(t => t.Number);

    /// <summary>Validation accuracy against learning rate, log x axis, coarse and fine trials in two colors.</summary>
    private static void PlotAccuracyVersusLearningRate(IReadOnlyList<Trial> trials, Trial winner, string path, int epochs, int trainCount)
    {
        var plot = new ScottPlot.Plot();
        foreach (var (stage, color) in new[] { ("coarse", ScottPlot.Colors.SteelBlue), ("fine", ScottPlot.Colors.DarkOrange) })
        {
            var ok = trials.Where(t => t.Stage == stage && t.Status == "ok").ToArray();
            if (ok.Length == 0) continue;
            var points = plot.Add.ScatterPoints(ok.Select(t => Math.Log10(t.Config.LearningRate)).ToArray(), ok.Select(t => t.ValidationAccuracy).ToArray());
            points.Color = color;
            points.MarkerSize = 9;
            points.LegendText = $"{stage} trials";
        }
        var best = plot.Add.ScatterPoints(new[] { Math.Log10(winner.Config.LearningRate) }, new[] { winner.ValidationAccuracy });
        best.Color = ScottPlot.Colors.Crimson;
        best.MarkerShape = ScottPlot.MarkerShape.OpenCircle;
        best.MarkerSize = 20;
        best.LegendText = $"best (trial {winner.Number})";

        // Log scale: the data are log10(lr); ticks at the powers of ten, labelled 1e-4 … 1e-1, with log-spaced minor ticks.
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = v => "1e" + Math.Round(v).ToString(CultureInfo.InvariantCulture),
        };
        plot.Axes.SetLimitsX(-4.1, -0.9);
        plot.Title($"Validation accuracy vs learning rate: {trials.Count(t => t.Status == "ok")} trials, {epochs} epoch(s) on {trainCount} images");
        plot.XLabel("learning rate (Adam, log scale)");
        plot.YLabel("validation accuracy");
        plot.ShowLegend(ScottPlot.Alignment.LowerLeft);
        plot.SavePng(path, 900, 520);
    }

    private static long ParameterCount(ICompiledModel model)
    {
        long count = 0;
        foreach (var p in model.Parameters) count += model.Parameter(p.Name).Length;
        return count;
    }

    internal static string F4(double v) => double.IsNaN(v) ? "-" : v.ToString("F4", CultureInfo.InvariantCulture);
    internal static string Ms(double v) => double.IsNaN(v) ? "-" : v.ToString("F0", CultureInfo.InvariantCulture);
}

/// <summary>
/// The trials as a Spectre.Console live table (redrawn after every change, best row highlighted) on an interactive
/// terminal; when the output is redirected, plain lines instead: one per finished trial, then the whole table.
/// </summary>
internal sealed class TrialTable
{
    private readonly List<Trial> _trials;
    private readonly bool _live;
    private readonly IAnsiConsole _console;
    private readonly HashSet<Trial> _printed = new();
    private bool _headerPrinted;
    private string? _notePrinted;

    public TrialTable(List<Trial> trials)
    {
        _trials = trials;
        _live = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        // Bound to the real standard output now, so that it keeps drawing while Console.Out is muted during Trainer.Fit.
        _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
    }

    /// <summary>A line shown under the table (the fine stage's ranges).</summary>
    public string? Note { get; set; }

    public void Run(Action<Action> search)
    {
        if (_live)
        {
            _console.Live(Build()).AutoClear(false).Overflow(VerticalOverflow.Ellipsis)
                .Start(ctx => search(() => { ctx.UpdateTarget(Build()); ctx.Refresh(); }));
        }
        else
        {
            search(PrintNew);
            Console.WriteLine();
            Console.WriteLine(Header());
            foreach (var t in _trials) Console.WriteLine(Line(t));
            Console.WriteLine("(* best; val loss includes the L2 penalty)");
        }
    }

    private static readonly string[] ShortColumns = { "#", "stage", "depth", "width", "lr", "l2", "drop", "batch", "jit ms", "val acc", "val loss", "s" };

    private static readonly string[] Columns = { "trial", "stage", "depth", "width", "lr", "l2", "dropout", "batch", "compile ms", "val acc", "val loss", "seconds" };

    private Trial? Best => Program.Ranked(_trials).FirstOrDefault();

    private IRenderable Build()
    {
        // Short headings and no vertical rules so that the twelve columns fit an 80-column terminal.
        var table = new Table().Border(TableBorder.Simple).Title("[bold]random search[/]")
            .Caption("[grey]best trial in [green]green[/]; jit ms = GraphJit lowering + IL emission + storage; val loss includes the L2 penalty; s = seconds[/]");
        foreach (var c in ShortColumns) table.AddColumn(new TableColumn(c).RightAligned().Padding(0, 0, 0, 0));
        var best = Best;
        foreach (var t in _trials)
        {
            var cells = Cells(t);
            string style = t == best ? "bold green" : t.Status == "running" ? "yellow" : t.Status == "diverged" ? "red" : t.Status is null ? "grey" : "";
            table.AddRow(cells.Select(c => new Markup(Markup.Escape(c), style.Length == 0 ? Style.Plain : Style.Parse(style))).ToArray());
        }
        if (Note is null) return table;
        return new Rows(table, new Markup($"[grey]{Markup.Escape(Note)}[/]"));
    }

    private static string[] Cells(Trial t)
    {
        var c = t.Config;
        string acc = t.Status switch
        {
            "running" => "training",
            "diverged" => "diverged",
            null => "",
            _ => Program.F4(t.ValidationAccuracy),
        };
        return new[]
        {
            t.Number.ToString(CultureInfo.InvariantCulture), t.Stage, c.Depth.ToString(CultureInfo.InvariantCulture),
            c.Width.ToString(CultureInfo.InvariantCulture), Config.Lr(c.LearningRate), Config.Lr(c.L2),
            c.Dropout.ToString("F2", CultureInfo.InvariantCulture), c.BatchSize.ToString(CultureInfo.InvariantCulture),
            Program.Ms(t.CompileMs), acc, t.Status == "ok" ? Program.F4(t.ValidationLoss) : "",
            t.Done ? t.Seconds.ToString("F1", CultureInfo.InvariantCulture) : "",
        };
    }

    private static readonly int[] Widths = { 5, 6, 5, 5, 8, 8, 7, 5, 10, 9, 8, 7 };

    private static string Header() => "  " + string.Join("  ", Columns.Select((c, i) => c.PadLeft(Widths[i])));

    private string Line(Trial t) =>
        (t == Best ? "* " : "  ") + string.Join("  ", Cells(t).Select((c, i) => c.PadLeft(Widths[i])));

    /// <summary>Plain mode: print the trials that finished since the last call (and the fine stage's ranges once).</summary>
    private void PrintNew()
    {
        if (Note is not null && _notePrinted != Note)
        {
            Console.WriteLine(Note);
            _notePrinted = Note;
        }
        foreach (var t in _trials.Where(t => t.Done && !_printed.Contains(t)))
        {
            if (!_headerPrinted)
            {
                Console.WriteLine(Header().Substring(2));
                _headerPrinted = true;
            }
            Console.WriteLine(Line(t).Substring(2));
            _printed.Add(t);
        }
    }
}

/// <summary>Command-line options, parsed by hand (no dependency).</summary>
internal sealed class Options
{
    public const string Usage = """
        usage: dotnet run -c Release --project examples/HyperparameterSearch -- [options]
          --budget N                    trials in total, coarse and fine (default 20)
          --coarse N                    of which coarse trials (default 60% of the budget, at least 1, leaving at least 1 fine)
          --epochs N                    epochs per trial (default 3)
          --train-size N                training images per trial, a random subset of the training split (default 10000)
          --validation-size N           score trials on the first N validation images only (default: all 6000)
          --final-epochs N              epochs of the best configuration's retraining on the whole training split (default 10)
          --final-schedule cosine|none  learning-rate schedule of the retraining (default cosine: anneal to 0)
          --seed N                      seed of the split, the sampling, initialization and shuffling (default 1)
          --max-batches N               at most N batches per epoch (smoke runs)
          --plots DIR                   where the validation-accuracy-vs-learning-rate PNG goes (default plots/hpo)
          --help                        this text
        """;

    public int Budget { get; private set; } = 20;
    public int? Coarse { get; private set; }
    public int Epochs { get; private set; } = 3;
    public int TrainSize { get; private set; } = 10000;
    public int? ValidationSize { get; private set; }
    public int FinalEpochs { get; private set; } = 10;
    public string FinalSchedule { get; private set; } = "cosine";
    public ulong Seed { get; private set; } = 1;
    public int? MaxBatches { get; private set; }
    public string Plots { get; private set; } = Path.Combine("plots", "hpo");
    public bool Help { get; private set; }

    public static Options Parse(string[] args)
    {
        var o = new Options();
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
                case "--budget": o.Budget = PositiveInt(); break;
                case "--coarse": o.Coarse = PositiveInt(); break;
                case "--epochs": o.Epochs = PositiveInt(); break;
                case "--train-size": o.TrainSize = PositiveInt(); break;
                case "--validation-size": o.ValidationSize = PositiveInt(); break;
                case "--final-epochs": o.FinalEpochs = PositiveInt(); break;
                case "--final-schedule":
                    o.FinalSchedule = Value().ToLowerInvariant();
                    if (o.FinalSchedule is not ("cosine" or "none")) throw new ArgumentException($"unknown schedule '{o.FinalSchedule}'; choose cosine or none");
                    break;
                case "--seed":
                {
                    string v = Value();
                    o.Seed = ulong.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong s)
                        ? s : throw new ArgumentException($"--seed expects a non-negative integer, got '{v}'");
                    break;
                }
                case "--max-batches": o.MaxBatches = PositiveInt(); break;
                case "--plots": o.Plots = Value(); break;
                case "--help" or "-h": o.Help = true; break;
                default: throw new ArgumentException($"unknown option '{arg}'");
            }
        }
        return o;
    }
}
