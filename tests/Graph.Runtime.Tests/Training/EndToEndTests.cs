using System;
using System.Linq;
using Graph.Runtime.Data;
using Graph.Runtime.Evaluation;
using Graph.Runtime.Initialization;
using Graph.Runtime.Optimizers;
using Graph.Runtime.Schedules;
using Graph.Runtime.Training;

namespace Graph.Runtime.Tests.Training;

/// <summary>
/// The toolkit pieces used together the way a generated training step will: a softmax-regression
/// model with hand-written forward/backward passes (the stand-in for generated code).
/// </summary>
public class EndToEndTests
{
    private static readonly Lazy<MnistData> MnistData = new(() => Mnist.Load());

    /// <summary>Softmax regression: logits = x·W + b with W stored [in, out] like the graph IR.</summary>
    private sealed class SoftmaxRegression
    {
        public readonly float[] W, B, GradW, GradB;
        private readonly int _in, _out;

        public SoftmaxRegression(int inputs, int classes, Rng rng)
        {
            _in = inputs;
            _out = classes;
            W = new float[inputs * classes];
            B = new float[classes];
            GradW = new float[W.Length];
            GradB = new float[B.Length];
            Initializers.PyTorchLayerDefault(W, B, inputs, rng);
        }

        public void Forward(ReadOnlySpan<float> x, int n, Span<float> logits)
        {
            for (int r = 0; r < n; r++)
            {
                var row = logits.Slice(r * _out, _out);
                B.CopyTo(row);
                for (int i = 0; i < _in; i++)
                {
                    float xi = x[r * _in + i];
                    if (xi == 0) continue;
                    for (int o = 0; o < _out; o++) row[o] += xi * W[i * _out + o];
                }
            }
        }

        /// <summary>Mean cross-entropy; fills the gradients.</summary>
        public double Backward(ReadOnlySpan<float> x, ReadOnlySpan<int> y, int n, Span<float> logits)
        {
            Array.Clear(GradW);
            Array.Clear(GradB);
            double loss = 0;
            for (int r = 0; r < n; r++)
            {
                var row = logits.Slice(r * _out, _out);
                float max = row[Metrics.ArgMax(row)];
                double sum = 0;
                for (int o = 0; o < _out; o++) sum += Math.Exp(row[o] - max);
                loss += Math.Log(sum) - (row[y[r]] - max);
                for (int o = 0; o < _out; o++)
                {
                    float delta = (float)(Math.Exp(row[o] - max) / sum) - (o == y[r] ? 1f : 0f);
                    delta /= n;
                    GradB[o] += delta;
                    for (int i = 0; i < _in; i++) GradW[i * _out + o] += x[r * _in + i] * delta;
                }
            }
            return loss / n;
        }
    }

    [Fact]
    public void TabularPipelineLearnsSeparableClasses()
    {
        // Three Gaussian blobs in 2-D with large offsets and scales (so scaling matters).
        var rng = new Rng(1);
        int n = 600;
        var features = new float[n * 2];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 3;
            features[2 * i] = 1000 + 50 * labels[i] + rng.NextNormal(0f, 5f);
            features[2 * i + 1] = -3 + 0.01f * (labels[i] == 1 ? 1 : 0) * 30 + rng.NextNormal(0f, 0.05f);
        }
        var all = new Dataset(features, [2], labels, 3);
        var (train, validation, test) = Splits.TrainValidationTest(all, 0.15, 0.15, new Rng(2));
        var scaler = StandardScaler.Fit(train);
        (train, validation, test) = (scaler.Transform(train), scaler.Transform(validation), scaler.Transform(test));

        var model = new SoftmaxRegression(2, 3, new Rng(3));
        var optimizer = new Adam(0.05f);
        optimizer.Bind([model.W.Length, model.B.Length]);
        var schedule = SequentialLR.WarmupThen(new LinearWarmup(0.05f, totalIters: 3), 3, new CosineAnnealingLR(0.05f, 30));
        var stopping = new EarlyStopping(patience: 5, minDelta: 1e-4);
        var history = new TrainingHistory();
        var batches = new MiniBatches(train, 32, shuffle: true, new Rng(4));
        var x = new float[32 * 2];
        var y = new int[32];
        var logits = new float[Math.Max(32, validation.Count) * 3];
        Memory<float>[] weights = [model.W, model.B];

        for (int epoch = 0; epoch < 40; epoch++)
        {
            schedule.ApplyTo(optimizer, epoch);
            batches.StartEpoch();
            var trainLoss = new RunningMean();
            for (int b = 0; b < batches.BatchCount; b++)
            {
                int size = batches.CopyBatch(b, x, y);
                model.Forward(x, size, logits);
                trainLoss.Add(model.Backward(x, y, size, logits), size);
                optimizer.BeginStep();
                optimizer.Update(0, model.W, model.GradW);
                optimizer.Update(1, model.B, model.GradB);
            }
            model.Forward(validation.Features, validation.Count, logits);
            double validationLoss = model.Backward(validation.Features, validation.Labels, validation.Count, logits);
            double validationAccuracy = (double)Metrics.CountCorrect(logits.AsSpan(0, validation.Count * 3), 3, validation.Labels) / validation.Count;
            history.Add(new EpochMetrics(epoch + 1, trainLoss.Mean, double.NaN, validationLoss, validationAccuracy, optimizer.LearningRate, TimeSpan.Zero));
            if (stopping.Observe(epoch + 1, validationLoss, weights)) break;
        }
        stopping.RestoreBestWeights(weights);

        var testLogits = new float[test.Count * 3];
        model.Forward(test.Features, test.Count, testLogits);
        var confusion = new ConfusionMatrix(3);
        confusion.AddLogits(testLogits, test.Labels);
        Assert.True(confusion.Accuracy > 0.97, $"test accuracy {confusion.Accuracy}\n{ClassificationReport.From(confusion)}");
        Assert.True(history.Epochs[^1].TrainLoss < history.Epochs[0].TrainLoss);
    }

    [Fact]
    public void MnistSoftmaxRegressionLearnsInOneEpochOnASubset()
    {
        var mnist = MnistData.Value;
        var train = mnist.Train.Subset(Enumerable.Range(0, 6000).ToArray());
        var test = mnist.Test.Subset(Enumerable.Range(0, 2000).ToArray());
        var model = new SoftmaxRegression(784, 10, new Rng(5));
        var optimizer = new Sgd(0.1f, momentum: 0.9f);
        optimizer.Bind([model.W.Length, model.B.Length]);
        var batches = new MiniBatches(train, 64, shuffle: true, new Rng(6));
        var x = new float[64 * 784];
        var augmented = new float[64 * 784];
        var y = new int[64];
        var logits = new float[64 * 10];
        var augmenter = new ImageAugmentation(1, 28, 28, maxTranslation: 1, maxRotationDegrees: 5);
        var augmentRng = new Rng(7);
        batches.StartEpoch();
        for (int b = 0; b < batches.BatchCount; b++)
        {
            int size = batches.CopyBatch(b, x, y);
            augmenter.ApplyBatch(x, augmented, size, augmentRng);
            model.Forward(augmented, size, logits);
            model.Backward(augmented, y, size, logits);
            optimizer.BeginStep();
            optimizer.Update(0, model.W, model.GradW);
            optimizer.Update(1, model.B, model.GradB);
        }
        var testLogits = new float[test.Count * 10];
        model.Forward(test.Features, test.Count, testLogits);
        var confusion = new ConfusionMatrix(10);
        confusion.AddLogits(testLogits, test.Labels);
        // Softmax regression reaches ~92% on full MNIST; one epoch on 6000 images gives well over 80%.
        Assert.True(confusion.Accuracy > 0.8, $"test accuracy {confusion.Accuracy}");
    }
}
