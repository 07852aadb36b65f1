using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using Graph.Runtime.Data;

namespace Graph.Runtime.Tests.Data;

public class IdxAndMnistTests
{
    private static readonly byte[] TwoImages = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)(i * 10)).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTripsRawAndGzip(bool gzip)
    {
        using var dir = new TempDirectory();
        string path = dir.File("images.idx");
        Idx.Write(path, [2, 3, 4], TwoImages, gzip);
        Assert.Equal(gzip, File.ReadAllBytes(path)[0] == 0x1f);
        var images = Idx.ReadImages(path);
        Assert.Equal([2, 3, 4], images.Shape);
        Assert.Equal(TwoImages, images.Data);
    }

    [Fact]
    public void RawHeaderIsBigEndianMagicAndSizes()
    {
        using var dir = new TempDirectory();
        string path = dir.File("labels.idx");
        Idx.Write(path, [3], [1, 2, 3], gzip: false);
        Assert.Equal(new byte[] { 0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3 }, File.ReadAllBytes(path));
    }

    [Fact]
    public void BadMagicIsReportedWithFileName()
    {
        using var dir = new TempDirectory();
        string path = dir.File("labels.idx");
        Idx.Write(path, [3], [1, 2, 3], gzip: false);
        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path));
        Assert.Contains("labels.idx", e.Message);
        Assert.Contains("0x00000801", e.Message);
        Assert.Contains("expected 0x00000803", e.Message);

        File.WriteAllBytes(path, [1, 2, 8, 1, 0, 0, 0, 0]);
        Assert.Contains("first two bytes", Assert.Throws<InvalidDataException>(() => Idx.Read(path)).Message);
        File.WriteAllBytes(path, [0, 0, 0x0D, 1, 0, 0, 0, 0]);
        Assert.Contains("element type 0x0D", Assert.Throws<InvalidDataException>(() => Idx.Read(path)).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedDataIsReported(bool gzip)
    {
        using var dir = new TempDirectory();
        string path = dir.File("short.idx");
        byte[] content = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, .. TwoImages.Take(20)];
        WriteBytes(path, content, gzip);
        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("24 data bytes but only 20", e.Message);

        WriteBytes(path, [0, 0, 8, 3, 0, 0], gzip);
        Assert.Contains("size of dimension 0", Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path)).Message);
    }

    [Fact]
    public void TrailingBytesAreReported()
    {
        using var dir = new TempDirectory();
        string path = dir.File("long.idx");
        File.WriteAllBytes(path, [0, 0, 8, 1, 0, 0, 0, 1, 5, 6]);
        Assert.Contains("unexpected bytes", Assert.Throws<InvalidDataException>(() => Idx.ReadLabels(path)).Message);
    }

    [Fact]
    public void CorruptGzipIsReportedWithFileName()
    {
        using var dir = new TempDirectory();
        string path = dir.File("corrupt.gz");
        Idx.Write(path, [2, 3, 4], TwoImages, gzip: true);
        byte[] bytes = File.ReadAllBytes(path);
        for (int i = 12; i < bytes.Length - 8; i++) bytes[i] ^= 0x5A; // garble the deflate stream
        File.WriteAllBytes(path, bytes);
        var e = Assert.ThrowsAny<InvalidDataException>(() => Idx.ReadImages(path));
        Assert.Contains("corrupt.gz", e.Message);
    }

    [Fact]
    public void CountMismatchAndLabelRangeAreReported()
    {
        using var dir = new TempDirectory();
        string images = dir.File("i.idx"), labels = dir.File("l.idx");
        Idx.Write(images, [2, 3, 4], TwoImages, gzip: false);
        Idx.Write(labels, [3], [1, 2, 3], gzip: false);
        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImagesAndLabels(images, labels, 10));
        Assert.Contains("2 images but 3 labels", e.Message);
        Idx.Write(labels, [2], [1, 12], gzip: false);
        Assert.Contains("label 12 at index 1 is out of range [0, 10)", Assert.Throws<InvalidDataException>(() => Idx.ReadImagesAndLabels(images, labels, 10)).Message);
    }

    [Fact]
    public void MnistLoadsFromRepositoryData()
    {
        var mnist = Mnist.Load();
        Assert.Equal(60000, mnist.Train.Count);
        Assert.Equal(10000, mnist.Test.Count);
        Assert.Equal(784, mnist.Train.FeatureCount);
        Assert.Equal([1, 28, 28], mnist.Train.SampleShape.ToArray());
        Assert.Equal(5, mnist.Train.Labels![0]);
        Assert.Equal(7, mnist.Test.Labels![0]); // the well-known first test digit
        Assert.Equal(10, mnist.Train.ClassCount);
        float min = mnist.Train.Features.Min(), max = mnist.Train.Features.Max();
        Assert.Equal(0f, min);
        Assert.Equal(1f, max);
        // Every class occurs; the training set has 5923 zeros (LeCun's table).
        Assert.Equal(5923, mnist.Train.Labels.Count(l => l == 0));
    }

    [Fact]
    public void MnistMissingDirectoryGivesClearError()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<FileNotFoundException>(() => Mnist.Load(dir.Path));
        Assert.Contains("train-images-idx3-ubyte", e.Message);
    }

    private static void WriteBytes(string path, byte[] content, bool gzip)
    {
        using var file = File.Create(path);
        if (!gzip)
        {
            file.Write(content);
            return;
        }
        using var z = new GZipStream(file, CompressionLevel.Fastest);
        z.Write(content);
    }
}
