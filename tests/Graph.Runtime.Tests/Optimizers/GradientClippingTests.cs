using System;
using Graph.Runtime.Optimizers;

namespace Graph.Runtime.Tests.Optimizers;

public class GradientClippingTests
{
    [Fact]
    public void ScalesToMaxNormWhenAbove()
    {
        // ‖(3, 4, 12)‖ = 13 across two tensors; maxNorm 6.5 ⇒ coefficient 6.5 / (13 + 1e-6).
        float[] a = [3f, 4f], b = [12f];
        float norm = GradientClipping.ClipByGlobalNorm([a, b], 6.5f);
        Assert.Equal(13f, norm, 5);
        double c = 6.5 / (13 + 1e-6);
        Assert.Equal(3 * c, a[0], 5);
        Assert.Equal(4 * c, a[1], 5);
        Assert.Equal(12 * c, b[0], 5);
    }

    [Fact]
    public void LeavesSmallGradientsAlone()
    {
        float[] a = [0.3f, 0.4f];
        Assert.Equal(0.5f, GradientClipping.ClipByGlobalNorm([a], 1f), 6);
        Assert.Equal([0.3f, 0.4f], a);
    }

    [Fact]
    public void ClipByValueClamps()
    {
        float[] g = [-5f, 0.5f, 5f];
        GradientClipping.ClipByValue(g, 1f);
        Assert.Equal([-1f, 0.5f, 1f], g);
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByValue(g, -1f));
    }
}
