using System;
using System.Collections.Generic;
using System.IO;

namespace Graph.Runtime.Data;

/// <summary>The MNIST training and test sets.</summary>
/// <param name="Train">60 000 training images.</param>
/// <param name="Test">10 000 test images.</param>
public sealed record MnistData(Dataset Train, Dataset Test);

/// <summary>
/// Loads MNIST from the four IDX files (gzip-compressed or raw): images become floats in [0, 1]
/// (pixel / 255, as torchvision's ToTensor), sample shape [1, 28, 28] (CHW), labels 0–9.
/// </summary>
public static class Mnist
{
    /// <summary>Number of digit classes.</summary>
    public const int ClassCount = 10;

    /// <summary>Image height and width in pixels.</summary>
    public const int ImageSize = 28;

    /// <summary>
    /// Loads both splits from <paramref name="directory"/>, or, when null, from the repository's
    /// data/mnist found by <see cref="FindDataDirectory"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, or images and labels disagree.</exception>
    public static MnistData Load(string? directory = null)
    {
        directory ??= FindDataDirectory();
        return new MnistData(LoadSplit(directory, "train"), LoadSplit(directory, "t10k"));
    }

    /// <summary>
    /// Finds a data/mnist directory holding train-images-idx3-ubyte(.gz) by walking up from
    /// AppContext.BaseDirectory and then from the current directory.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">Not found; the message lists where it looked.</exception>
    public static string FindDataDirectory()
    {
        var searched = new List<string>();
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "data", "mnist");
                if (File.Exists(FilePath(candidate, "train-images-idx3-ubyte", mustExist: false)))
                    return candidate;
                searched.Add(candidate);
            }
        }
        throw new DirectoryNotFoundException($"No data/mnist directory with MNIST files was found. Looked in: {string.Join(", ", searched)}.");
    }

    private static Dataset LoadSplit(string directory, string prefix)
    {
        string imagesPath = FilePath(directory, $"{prefix}-images-idx3-ubyte", mustExist: true);
        string labelsPath = FilePath(directory, $"{prefix}-labels-idx1-ubyte", mustExist: true);
        var (images, labels) = Idx.ReadImagesAndLabels(imagesPath, labelsPath, ClassCount);
        if (images.Shape[1] != ImageSize || images.Shape[2] != ImageSize)
            throw new InvalidDataException($"IDX file '{imagesPath}' has {images.Shape[1]}×{images.Shape[2]} images; MNIST images are {ImageSize}×{ImageSize}.");
        var pixels = new float[images.Data.Length];
        // Division rather than a reciprocal multiply: bit-identical to torchvision's x.float().div(255).
        for (int i = 0; i < pixels.Length; i++) pixels[i] = images.Data[i] / 255f;
        var classes = new int[labels.Length];
        for (int i = 0; i < classes.Length; i++) classes[i] = labels[i];
        return new Dataset(pixels, [1, ImageSize, ImageSize], classes, ClassCount);
    }

    /// <summary>The gzip file if present, else the raw one.</summary>
    private static string FilePath(string directory, string name, bool mustExist)
    {
        string gz = Path.Combine(directory, name + ".gz");
        if (File.Exists(gz)) return gz;
        string raw = Path.Combine(directory, name);
        if (mustExist && !File.Exists(raw))
            throw new FileNotFoundException($"MNIST file '{name}' (or '{name}.gz') not found in '{directory}'.", raw);
        return raw;
    }
}
