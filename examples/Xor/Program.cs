// XOR with a 2-2-1 network: full-batch training on the four points until all are classified
// correctly (probability > 0.5 for 1, < 0.5 for 0). A net this small can stall in a poor local
// minimum from some starting points; then it restarts from the next seed and says so.
//
//   dotnet run -c Release --project examples/Xor [-- --seed N --steps N]

using System;
using System.Globalization;
using Graph.Runtime.Optimizers;

namespace XorExample;

public static class Program
{
    private static readonly float[] Inputs = { 0, 0, 0, 1, 1, 0, 1, 1 };
    private static readonly float[] Targets = { 0, 1, 1, 0 };

    public static int Main(string[] args)
    {
        ulong seed = 1;
        int steps = 2000;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seed" when i + 1 < args.Length: seed = ulong.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--steps" when i + 1 < args.Length: steps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'; usage: [--seed N] [--steps N]");
                    return 2;
            }
        }

        const int maxRestarts = 10;
        for (int attempt = 0; attempt < maxRestarts; attempt++, seed++)
        {
            var model = new XorNet(4, seed) { Optimizer = new Adam(learningRate: 0.05f) };
            Console.WriteLine($"seed {seed}: training 2-2-1 (tanh, sigmoid, BCE, Adam lr 0.05) for {steps} full-batch steps");
            float loss = float.NaN;
            for (int step = 1; step <= steps; step++)
            {
                model.IsTraining = true;
                loss = model.TrainStep(Inputs, Targets, 4);
                if (step % 500 == 0) Console.WriteLine($"  step {step,5}  loss {loss.ToString("F6", CultureInfo.InvariantCulture)}");
            }

            model.IsTraining = false;
            var p = new float[4];
            model.Predict(Inputs, 4, p);
            int correct = 0;
            for (int i = 0; i < 4; i++)
            {
                int predicted = p[i] > 0.5f ? 1 : 0;
                if (predicted == (int)Targets[i]) correct++;
                Console.WriteLine($"  {Inputs[2 * i]} xor {Inputs[2 * i + 1]} = {Targets[i]}   p = {p[i].ToString("F4", CultureInfo.InvariantCulture)}   predicted {predicted}");
            }
            double accuracy = correct / 4.0;
            if (correct == 4)
            {
                Console.WriteLine($"accuracy: {accuracy.ToString("F2", CultureInfo.InvariantCulture)}");
                return 0;
            }
            Console.WriteLine($"  accuracy {accuracy.ToString("F2", CultureInfo.InvariantCulture)}: stuck in a local minimum, restarting with the next seed");
        }
        Console.WriteLine("FAILED: no seed reached 100% accuracy");
        return 1;
    }
}
