using System;
using Graph.Runtime.Initialization;

namespace Graph.Runtime.Data;

/// <summary>
/// Random affine augmentation of CHW float images (like torchvision's RandomAffine with bilinear
/// interpolation and zero fill): rotation, isotropic scaling and translation about the image centre.
/// Parameters are drawn per image from a seeded <see cref="Rng"/>; output goes to a caller-provided
/// buffer (no allocation). Differences from torchvision: translations are continuous (torchvision
/// rounds them to whole pixels), and the centre is ((W−1)/2, (H−1)/2).
/// </summary>
public sealed class ImageAugmentation
{
    /// <summary>Creates an augmenter for images of the given CHW shape.</summary>
    /// <param name="channels">Channels C.</param>
    /// <param name="height">Height H in pixels.</param>
    /// <param name="width">Width W in pixels.</param>
    /// <param name="maxTranslation">Largest shift in pixels along each axis (uniform in ±this).</param>
    /// <param name="maxRotationDegrees">Largest rotation in degrees (uniform in ±this).</param>
    /// <param name="minScale">Smallest zoom factor (uniform in [minScale, maxScale]).</param>
    /// <param name="maxScale">Largest zoom factor.</param>
    public ImageAugmentation(int channels, int height, int width, float maxTranslation = 2f, float maxRotationDegrees = 10f,
        float minScale = 0.9f, float maxScale = 1.1f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTranslation);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRotationDegrees);
        if (!(minScale > 0f && maxScale >= minScale))
            throw new ArgumentOutOfRangeException(nameof(minScale), $"Scale range [{minScale}, {maxScale}] must be positive and non-empty.");
        Channels = channels;
        Height = height;
        Width = width;
        MaxTranslation = maxTranslation;
        MaxRotationDegrees = maxRotationDegrees;
        MinScale = minScale;
        MaxScale = maxScale;
    }

    /// <summary>Channels C.</summary>
    public int Channels { get; }

    /// <summary>Height H.</summary>
    public int Height { get; }

    /// <summary>Width W.</summary>
    public int Width { get; }

    /// <summary>Largest shift in pixels.</summary>
    public float MaxTranslation { get; }

    /// <summary>Largest rotation in degrees.</summary>
    public float MaxRotationDegrees { get; }

    /// <summary>Smallest zoom factor.</summary>
    public float MinScale { get; }

    /// <summary>Largest zoom factor.</summary>
    public float MaxScale { get; }

    /// <summary>Values per image, C·H·W.</summary>
    public int ImageLength => Channels * Height * Width;

    /// <summary>Writes a randomly transformed copy of one image into <paramref name="destination"/>.</summary>
    public void Apply(ReadOnlySpan<float> image, Span<float> destination, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        // Draw in a fixed order so a seed fixes the result.
        double angle = (2 * rng.NextDouble() - 1) * MaxRotationDegrees * Math.PI / 180;
        double scale = MinScale + (MaxScale - (double)MinScale) * rng.NextDouble();
        double shiftX = (2 * rng.NextDouble() - 1) * MaxTranslation;
        double shiftY = (2 * rng.NextDouble() - 1) * MaxTranslation;
        Transform(image, destination, Channels, Height, Width, angle, scale, shiftX, shiftY);
    }

    /// <summary>Augments <paramref name="count"/> consecutive images (e.g. a mini-batch) into <paramref name="destination"/>.</summary>
    public void ApplyBatch(ReadOnlySpan<float> images, Span<float> destination, int count, Rng rng)
    {
        int length = ImageLength;
        if (images.Length < count * length || destination.Length < count * length)
            throw new ArgumentException($"{count} images of {length} values need {count * length} floats in source and destination (have {images.Length} and {destination.Length}).");
        for (int i = 0; i < count; i++)
            Apply(images.Slice(i * length, length), destination.Slice(i * length, length), rng);
    }

    /// <summary>
    /// Deterministic affine transform about the centre c = ((W−1)/2, (H−1)/2): an input pixel at p
    /// moves to scale·R(angle)·(p − c) + c + (shiftX, shiftY). With y pointing down, a positive angle
    /// turns the picture counter-clockwise as displayed. Each output pixel is sampled bilinearly at
    /// the inverse-mapped position; samples outside the input read as 0.
    /// </summary>
    public static void Transform(ReadOnlySpan<float> image, Span<float> destination, int channels, int height, int width,
        double angleRadians, double scale, double shiftX, double shiftY)
    {
        int plane = height * width;
        if (image.Length != channels * plane) throw new ArgumentException($"Image has {image.Length} values; expected {channels}×{height}×{width}.", nameof(image));
        if (destination.Length != channels * plane) throw new ArgumentException($"Destination has {destination.Length} values; expected {channels}×{height}×{width}.", nameof(destination));
        if (!(scale > 0)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "Scale must be positive.");
        double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
        double cos = Math.Cos(angleRadians) / scale, sin = Math.Sin(angleRadians) / scale;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                // Inverse map: p = R(−angle)·(q − c − t)/scale + c.
                double dx = x - cx - shiftX, dy = y - cy - shiftY;
                double sourceX = cos * dx - sin * dy + cx;
                double sourceY = sin * dx + cos * dy + cy;
                int x0 = (int)Math.Floor(sourceX), y0 = (int)Math.Floor(sourceY);
                float fx = (float)(sourceX - x0), fy = (float)(sourceY - y0);
                for (int c = 0; c < channels; c++)
                {
                    ReadOnlySpan<float> source = image.Slice(c * plane, plane);
                    float top = (1 - fx) * Pixel(source, x0, y0, width, height) + fx * Pixel(source, x0 + 1, y0, width, height);
                    float bottom = (1 - fx) * Pixel(source, x0, y0 + 1, width, height) + fx * Pixel(source, x0 + 1, y0 + 1, width, height);
                    destination[c * plane + y * width + x] = (1 - fy) * top + fy * bottom;
                }
            }
        }
    }

    private static float Pixel(ReadOnlySpan<float> plane, int x, int y, int width, int height) =>
        (uint)x < (uint)width && (uint)y < (uint)height ? plane[y * width + x] : 0f;
}
