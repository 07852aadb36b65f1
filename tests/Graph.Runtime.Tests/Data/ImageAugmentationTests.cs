using System;
using System.Linq;
using Graph.Runtime.Data;
using Graph.Runtime.Initialization;

namespace Graph.Runtime.Tests.Data;

public class ImageAugmentationTests
{
    private static float[] Ramp(int c, int h, int w) => Enumerable.Range(0, c * h * w).Select(i => (float)i + 1).ToArray();

    [Fact]
    public void IdentityTransformCopies()
    {
        float[] image = Ramp(2, 4, 5), output = new float[40];
        ImageAugmentation.Transform(image, output, 2, 4, 5, 0, 1, 0, 0);
        Assert.Equal(image, output);
    }

    [Fact]
    public void WholePixelTranslationShiftsAndZeroFills()
    {
        float[] image = Ramp(1, 3, 3), output = new float[9];
        ImageAugmentation.Transform(image, output, 1, 3, 3, 0, 1, shiftX: 1, shiftY: 0);
        Assert.Equal([0, 1, 2, 0, 4, 5, 0, 7, 8], output);
        ImageAugmentation.Transform(image, output, 1, 3, 3, 0, 1, shiftX: 0, shiftY: -1);
        Assert.Equal([4, 5, 6, 7, 8, 9, 0, 0, 0], output);
    }

    [Fact]
    public void HalfPixelTranslationAveragesNeighbours()
    {
        float[] image = [0, 2, 4, 6], output = new float[4];
        ImageAugmentation.Transform(image, output, 1, 1, 4, 0, 1, shiftX: 0.5, shiftY: 0);
        Assert.Equal([0f, 1f, 3f, 5f], output); // output x samples input x − 0.5
    }

    [Fact]
    public void QuarterTurnRotatesCounterClockwise()
    {
        // 1 2 3        3 6 9
        // 4 5 6   →    2 5 8
        // 7 8 9        1 4 7
        float[] image = Ramp(1, 3, 3), output = new float[9];
        ImageAugmentation.Transform(image, output, 1, 3, 3, Math.PI / 2, 1, 0, 0);
        float[] expected = [3, 6, 9, 2, 5, 8, 1, 4, 7];
        for (int i = 0; i < 9; i++) Assert.Equal(expected[i], output[i], 1e-5);
    }

    [Fact]
    public void ScalingByTwoAboutCentre()
    {
        // Output x samples input c + (x − c)/2: on 1×5 with c = 2, x = 0 reads input 1, x = 4 reads 3.
        float[] image = [0, 10, 20, 30, 40], output = new float[5];
        ImageAugmentation.Transform(image, output, 1, 1, 5, 0, 2, 0, 0);
        Assert.Equal([10f, 15f, 20f, 25f, 30f], output);
    }

    [Fact]
    public void RandomAugmentationIsSeededAndKeepsMass()
    {
        var augmenter = new ImageAugmentation(1, 28, 28, maxTranslation: 2, maxRotationDegrees: 10, minScale: 0.9f, maxScale: 1.1f);
        // A centred blob: small transforms keep it inside the frame.
        float[] image = new float[784];
        for (int y = 10; y < 18; y++)
            for (int x = 10; x < 18; x++) image[y * 28 + x] = 1f;
        float[] a = new float[784 * 2], b = new float[784 * 2];
        float[] batch = [.. image, .. image];
        augmenter.ApplyBatch(batch, a, 2, new Rng(7));
        augmenter.ApplyBatch(batch, b, 2, new Rng(7));
        Assert.Equal(a, b);
        Assert.NotEqual(a.AsSpan(0, 784).ToArray(), a.AsSpan(784, 784).ToArray()); // each image drew its own parameters
        // Mass scales by scale² ∈ [0.81, 1.21] of 64.
        Assert.InRange(a.Take(784).Sum(), 64 * 0.8, 64 * 1.22);
        Assert.All(a, v => Assert.InRange(v, 0f, 1.000001f));
    }
}
