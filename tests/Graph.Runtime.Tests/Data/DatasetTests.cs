using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Graph.Runtime.Data;
using Graph.Runtime.Initialization;

namespace Graph.Runtime.Tests.Data;

public class DatasetTests
{
    /// <summary>10 samples of 2 features: sample i = (i, 10 i), label i % 3.</summary>
    private static Dataset Small() => new(
        Enumerable.Range(0, 10).SelectMany(i => new float[] { i, 10 * i }).ToArray(), [2],
        Enumerable.Range(0, 10).Select(i => i % 3).ToArray(), 3);

    [Fact]
    public void ValidatesSizes()
    {
        Assert.Throws<ArgumentException>(() => new Dataset(new float[5], [2], new int[2], 2));
        Assert.Throws<ArgumentException>(() => new Dataset(new float[4], [2], new int[3], 2));
        Assert.Contains("Label 5", Assert.Throws<ArgumentException>(() => new Dataset(new float[4], [2], [0, 5], 2)).Message);
        Assert.Throws<ArgumentException>(() => new Dataset(new float[4], [2], new float[3], 1));
    }

    [Fact]
    public void SubsetCopiesSelectedSamples()
    {
        var sub = Small().Subset([7, 2]);
        Assert.Equal([7f, 70f, 2f, 20f], sub.Features);
        Assert.Equal([1, 2], sub.Labels!);
    }

    [Fact]
    public void FisherYatesIsSeededPermutation()
    {
        var a = Shuffling.Permutation(100, new Rng(5));
        var b = Shuffling.Permutation(100, new Rng(5));
        Assert.Equal(a, b);
        Assert.Equal(Enumerable.Range(0, 100), a.Order());
        Assert.NotEqual(Enumerable.Range(0, 100), a);
    }

    [Fact]
    public void FisherYatesIsUniformOverPermutationsOfThree()
    {
        var rng = new Rng(11);
        var counts = new System.Collections.Generic.Dictionary<string, int>();
        for (int t = 0; t < 60_000; t++)
        {
            int[] p = [0, 1, 2];
            Shuffling.FisherYates<int>(p, rng);
            string key = string.Concat(p);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        Assert.Equal(6, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 9_500, 10_500)); // expected 10 000, SD ≈ 91
    }

    [Fact]
    public void MiniBatchesCoverEverySampleOnceIncludingLastPartialBatch()
    {
        var data = Small();
        var batches = new MiniBatches(data, 4, shuffle: true, new Rng(3));
        Assert.Equal(3, batches.BatchCount);
        var x = new float[8];
        var y = new int[4];
        var seen = new System.Collections.Generic.List<float>();
        batches.StartEpoch();
        int[] sizes = new int[3];
        for (int b = 0; b < batches.BatchCount; b++)
        {
            int n = batches.CopyBatch(b, x, y);
            sizes[b] = n;
            for (int k = 0; k < n; k++)
            {
                Assert.Equal(10 * x[2 * k], x[2 * k + 1]);           // features stay together
                Assert.Equal((int)x[2 * k] % 3, y[k]);               // with their label
                seen.Add(x[2 * k]);
            }
        }
        Assert.Equal([4, 4, 2], sizes);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (float)i), seen.Order());
        Assert.Equal(2, new MiniBatches(data, 4, shuffle: false, dropLast: true).BatchCount);
    }

    [Fact]
    public void UnshuffledOrderIsSequentialAndShuffledOrderIsReproduciblePerEpoch()
    {
        var data = Small();
        var plain = new MiniBatches(data, 3, shuffle: false);
        plain.StartEpoch();
        Assert.Equal(Enumerable.Range(0, 10), plain.Order.ToArray());
        var a = new MiniBatches(data, 3, true, new Rng(9));
        var b = new MiniBatches(data, 3, true, new Rng(9));
        a.StartEpoch(); b.StartEpoch();
        int[] first = a.Order.ToArray();
        Assert.Equal(first, b.Order.ToArray());
        a.StartEpoch();
        Assert.NotEqual(first, a.Order.ToArray());
    }

    [Fact]
    public void BatchCopyAllocatesNothing()
    {
        var data = Small();
        var batches = new MiniBatches(data, 4, true, new Rng(1));
        var x = new float[8];
        var y = new int[4];
        var oneHot = new float[12];
        void Epoch()
        {
            batches.StartEpoch();
            for (int b = 0; b < batches.BatchCount; b++) batches.CopyBatchOneHot(b, x, y, oneHot);
        }
        Epoch();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) Epoch();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void RegressionTargetsBatch()
    {
        var data = new Dataset([1, 2, 3], [1], [10f, 20f, 30f], 1);
        var batches = new MiniBatches(data, 2, false);
        var x = new float[2];
        var t = new float[2];
        Assert.Equal(1, batches.CopyBatch(1, x, t));
        Assert.Equal((3f, 30f), (x[0], t[0]));
        Assert.Throws<InvalidOperationException>(() => batches.CopyBatch(0, x, new int[2]));
    }

    [Fact]
    public void OneHotEncodes()
    {
        Assert.Equal([0f, 1f, 0f, 0f, 0f, 1f], OneHot.Encode([1, 2], 3));
        Assert.Throws<ArgumentException>(() => OneHot.Encode([3], 3));
    }

    [Fact]
    public void SplitsAreSeededDisjointAndComplete()
    {
        var data = Small();
        var (train, val, test) = Splits.TrainValidationTest(data, 0.2, 0.25, new Rng(4));
        Assert.Equal((5, 2, 3), (train.Count, val.Count, test.Count)); // ⌈2⌉ validation, ⌈2.5⌉ test
        var all = train.Features.Concat(val.Features).Concat(test.Features).Where((_, i) => i % 2 == 0).Order();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (float)i), all);
        var again = Splits.TrainValidationTest(data, 0.2, 0.25, new Rng(4));
        Assert.Equal(train.Features, again.Train.Features);
        Assert.Throws<ArgumentOutOfRangeException>(() => Splits.TrainValidation(data, 1.0, new Rng(1)));
    }

    [Fact]
    public void StandardScalerUsesTrainingMeanAndPopulationStd()
    {
        // Feature 0: 1, 2, 3, 4 → mean 2.5, std √1.25. Feature 1 constant → scale 1.
        float[] train = [1, 7, 2, 7, 3, 7, 4, 7];
        var scaler = StandardScaler.Fit(train, 2);
        Assert.Equal([2.5f, 7f], scaler.Mean.ToArray());
        Assert.Equal((float)Math.Sqrt(1.25), scaler.StandardDeviation[0], 6);
        Assert.Equal(1f, scaler.StandardDeviation[1]);
        float[] test = [5, 8];
        scaler.Transform(test);
        Assert.Equal(2.5 / Math.Sqrt(1.25), test[0], 5);
        Assert.Equal(1f, test[1]);
        scaler.InverseTransform(test);
        Assert.Equal(5f, test[0], 5);
        Assert.Equal(8f, test[1], 5);
    }

    [Fact]
    public void MinMaxScalerMapsTrainingRange()
    {
        float[] train = [0, 5, 10, 5, 5, 5];
        var scaler = MinMaxScaler.Fit(train, 2, -1f, 1f);
        float[] x = [0, 5, 10, 5, 20, 6];
        scaler.Transform(x);
        Assert.Equal([-1f, -1f, 1f, -1f, 3f, 1f], x); // constant feature: range 1, so 6 ↦ −1 + (6 − 5)·2
        var ds = scaler.Transform(new Dataset([5f, 5f], [2], [0], 1));
        Assert.Equal([0f, -1f], ds.Features);
    }

    [Fact]
    public void CsvReadsHeaderTextLabelsAndChosenTarget()
    {
        const string text = "a,species,b\n1.5,setosa,2\n\n\"3\",virginica,-4e-1\n5,setosa,6\n";
        var data = Csv.Read(new StringReader(text), new CsvOptions { TargetColumnName = "species" });
        Assert.Equal([1.5f, 2f, 3f, -0.4f, 5f, 6f], data.Features);
        Assert.Equal([0, 1, 0], data.Labels!);
        Assert.Equal(["setosa", "virginica"], data.ClassNames);
        Assert.Equal(["a", "b"], data.FeatureNames);
    }

    [Fact]
    public void CsvWithoutHeaderAndRegressionTarget()
    {
        var data = Csv.Read(new StringReader("1;2;0.5\n3;4;1.5\n"), new CsvOptions { Separator = ';', Target = CsvTarget.Regression });
        Assert.Equal([1f, 2f, 3f, 4f], data.Features);
        Assert.Equal([0.5f, 1.5f], data.Targets!);
        var ints = Csv.Read(new StringReader("1,2,0\n3,4,2\n"));
        Assert.Equal(3, ints.ClassCount);
    }

    [Fact]
    public void CsvErrorsNameTheLine()
    {
        var e = Assert.Throws<InvalidDataException>(() => Csv.Read(new StringReader("x,y,label\n1,2,0\n3,4\n"), sourceName: "t.csv"));
        Assert.Contains("t.csv', line 3: expected 3 fields but found 2", e.Message);
        e = Assert.Throws<InvalidDataException>(() => Csv.Read(new StringReader("x,y,label\n1,2,0\n\n3,abc,1\n"), sourceName: "t.csv"));
        Assert.Contains("line 4, column 2 ('y'): cannot parse 'abc'", e.Message);
        Assert.Throws<InvalidDataException>(() => Csv.Read(new StringReader("x,y\n1,2\n"), new CsvOptions { TargetColumnName = "z" }));
        Assert.Contains("unterminated", Assert.Throws<InvalidDataException>(() => Csv.Read(new StringReader("1,\"2\n"))).Message);
    }
}
