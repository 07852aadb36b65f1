using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;

namespace Graph.Runtime.Data;

/// <summary>An IDX array of unsigned bytes: its dimensions and row-major data.</summary>
/// <param name="Shape">Dimensions, outermost first (e.g. [60000, 28, 28]).</param>
/// <param name="Data">The bytes, row-major.</param>
public sealed record IdxArray(int[] Shape, byte[] Data);

/// <summary>
/// Reader and writer for the IDX format of the MNIST files (LeCun): a big-endian magic number
/// 0x0000TTDD (TT element type, DD number of dimensions), DD big-endian int32 sizes, then the data.
/// Files may be gzip-compressed (detected by the 1f 8b magic) or raw. Only unsigned-byte data
/// (type 0x08, the MNIST case) is supported. All format errors are <see cref="InvalidDataException"/>s
/// naming the file and the problem.
/// </summary>
public static class Idx
{
    /// <summary>Magic number of an unsigned-byte 3-dimensional array (images).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an unsigned-byte 1-dimensional array (labels).</summary>
    public const int LabelsMagic = 0x00000801;

    private const byte UnsignedByteType = 0x08;

    /// <summary>Reads an unsigned-byte IDX file of any rank.</summary>
    /// <exception cref="InvalidDataException">Bad magic, unsupported type, truncated or over-long data, corrupt gzip.</exception>
    public static IdxArray Read(string path) => Read(path, expectedMagic: null);

    /// <summary>Reads an images file (magic 0x803: count × rows × columns).</summary>
    public static IdxArray ReadImages(string path) => Read(path, ImagesMagic);

    /// <summary>Reads a labels file (magic 0x801) and checks every label is below <paramref name="classCount"/>.</summary>
    public static byte[] ReadLabels(string path, int classCount = 256)
    {
        var labels = Read(path, LabelsMagic).Data;
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classCount)
                throw new InvalidDataException($"IDX file '{path}': label {labels[i]} at index {i} is out of range [0, {classCount}).");
        }
        return labels;
    }

    /// <summary>Reads an images file and its labels file and checks that their counts agree.</summary>
    public static (IdxArray Images, byte[] Labels) ReadImagesAndLabels(string imagesPath, string labelsPath, int classCount)
    {
        var images = ReadImages(imagesPath);
        var labels = ReadLabels(labelsPath, classCount);
        if (images.Shape[0] != labels.Length)
            throw new InvalidDataException($"IDX files '{imagesPath}' and '{labelsPath}' disagree: {images.Shape[0]} images but {labels.Length} labels.");
        return (images, labels);
    }

    /// <summary>Writes an unsigned-byte IDX file, gzip-compressed if <paramref name="gzip"/>.</summary>
    public static void Write(string path, ReadOnlySpan<int> shape, ReadOnlySpan<byte> data, bool gzip)
    {
        long count = 1;
        foreach (int d in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(shape));
            count *= d;
        }
        if (shape.Length is 0 or > 255) throw new ArgumentException("IDX needs 1 to 255 dimensions.", nameof(shape));
        if (count != data.Length) throw new ArgumentException($"Shape holds {count} elements; data has {data.Length}.", nameof(data));
        using var file = File.Create(path);
        using Stream output = gzip ? new GZipStream(file, CompressionLevel.Optimal) : file;
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, (UnsignedByteType << 8) | shape.Length);
        output.Write(word);
        foreach (int d in shape)
        {
            BinaryPrimitives.WriteInt32BigEndian(word, d);
            output.Write(word);
        }
        output.Write(data);
    }

    private static IdxArray Read(string path, int? expectedMagic)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        bool gzip = file.Length >= 2 && file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
        file.Position = 0;
        using Stream input = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return ReadContent(input, path, expectedMagic);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith("IDX file", StringComparison.Ordinal))
        {
            // GZipStream's own error (corrupt deflate data or checksum) lacks the file name.
            throw new InvalidDataException($"IDX file '{path}': the gzip data is corrupt ({e.Message}).", e);
        }
    }

    private static IdxArray ReadContent(Stream input, string path, int? expectedMagic)
    {
        Span<byte> word = stackalloc byte[4];
        if (ReadFully(input, word) < 4)
            throw new InvalidDataException($"IDX file '{path}' is truncated: it ends inside the 4-byte magic number.");
        int magic = BinaryPrimitives.ReadInt32BigEndian(word);
        if (word[0] != 0 || word[1] != 0)
            throw new InvalidDataException($"IDX file '{path}' has bad magic number 0x{magic:X8}: the first two bytes must be zero{ExpectedText(expectedMagic)}.");
        if (word[2] != UnsignedByteType)
            throw new InvalidDataException($"IDX file '{path}' has element type 0x{word[2]:X2}; only unsigned bytes (0x08) are supported.");
        if (expectedMagic is int expected && magic != expected)
            throw new InvalidDataException($"IDX file '{path}' has magic number 0x{magic:X8}{ExpectedText(expectedMagic)}.");
        int rank = word[3];
        if (rank == 0) throw new InvalidDataException($"IDX file '{path}' declares zero dimensions.");
        var shape = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            if (ReadFully(input, word) < 4)
                throw new InvalidDataException($"IDX file '{path}' is truncated: it ends inside the size of dimension {i}.");
            shape[i] = BinaryPrimitives.ReadInt32BigEndian(word);
            if (shape[i] < 0) throw new InvalidDataException($"IDX file '{path}' has negative size {shape[i]} for dimension {i}.");
            count *= shape[i];
            if (count > Array.MaxLength) throw new InvalidDataException($"IDX file '{path}' declares more than {Array.MaxLength} elements.");
        }
        var data = new byte[count];
        int read = ReadFully(input, data);
        if (read < data.Length)
            throw new InvalidDataException($"IDX file '{path}' is truncated: shape [{string.Join(", ", shape)}] needs {data.Length} data bytes but only {read} are present.");
        if (input.ReadByte() >= 0)
            throw new InvalidDataException($"IDX file '{path}' has unexpected bytes after the {data.Length} data bytes of shape [{string.Join(", ", shape)}].");
        return new IdxArray(shape, data);
    }

    private static string ExpectedText(int? expectedMagic) => expectedMagic switch
    {
        ImagesMagic => " (expected 0x00000803 for an images file)",
        LabelsMagic => " (expected 0x00000801 for a labels file)",
        int other => $" (expected 0x{other:X8})",
        null => "",
    };

    private static int ReadFully(Stream input, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = input.Read(buffer.Slice(total));
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
