using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Graph.Runtime.Checkpoints;

/// <summary>A named float32 tensor to write, or a destination to load into.</summary>
/// <param name="Name">Unique tensor name, e.g. "dense1.weight".</param>
/// <param name="Shape">Dimensions; their product must equal Data.Length.</param>
/// <param name="Data">Row-major values.</param>
public readonly record struct NamedTensor(string Name, int[] Shape, Memory<float> Data);

/// <summary>The expected name, shape and dtype of a stored tensor.</summary>
public readonly record struct TensorSpec(string Name, int[] Shape, string DType = "F32");

/// <summary>A tensor entry of a safetensors header.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="DType">safetensors dtype, e.g. "F32".</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Begin">Start offset within the data section.</param>
/// <param name="End">End offset (exclusive) within the data section.</param>
public sealed record SafeTensorInfo(string Name, string DType, int[] Shape, long Begin, long End);

/// <summary>
/// Reader and writer of the safetensors format (huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of JSON header
/// <c>{"__metadata__": {string: string}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}</c>
/// padded with spaces to a multiple of 8, then the little-endian tensor bytes; offsets are relative
/// to the data section, which the tensors must cover exactly, without gaps or overlaps. The header is
/// read and written with Utf8JsonReader/Utf8JsonWriter (no reflection; trimming/AOT safe). Files are
/// read whole into memory (so at most 2 GB). This writer stores only F32 tensors.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest header accepted (the reference implementation's limit).</summary>
    public const int MaxHeaderLength = 100_000_000;

    private static readonly Dictionary<string, int> ElementSizes = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1,
        ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4,
        ["I64"] = 8, ["U64"] = 8, ["F64"] = 8,
    };

    /// <summary>Writes the tensors atomically to <paramref name="path"/> (see <see cref="AtomicFile.Write"/>).</summary>
    /// <exception cref="ArgumentException">Duplicate or reserved names, or a shape that does not match its data.</exception>
    public static void Write(string path, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        byte[] header = BuildHeader(tensors, metadata);
        AtomicFile.Write(path, stream => WriteBody(stream, header, tensors));
    }

    /// <summary>Writes the tensors to a stream.</summary>
    public static void Write(Stream stream, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        WriteBody(stream, BuildHeader(tensors, metadata), tensors);
    }

    /// <summary>Reads and validates a file.</summary>
    /// <exception cref="InvalidDataException">The file is truncated or its header is malformed or inconsistent.</exception>
    public static SafeTensorsFile Read(string path) => Read(File.ReadAllBytes(path), path);

    /// <summary>Reads and validates file contents; <paramref name="sourceName"/> appears in error messages.</summary>
    /// <exception cref="InvalidDataException">The bytes are truncated or the header is malformed or inconsistent.</exception>
    public static SafeTensorsFile Read(byte[] bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < 8)
            throw Invalid(sourceName, $"is truncated: {bytes.Length} bytes, too short for the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8))
            throw Invalid(sourceName, $"is truncated or corrupt: the header length {headerLength} exceeds the {bytes.Length - 8} bytes after the length field");
        if (headerLength > MaxHeaderLength)
            throw Invalid(sourceName, $"declares a header of {headerLength} bytes, more than the {MaxHeaderLength} allowed");
        if (headerLength < 2 || bytes[8] != (byte)'{')
            throw Invalid(sourceName, "has a header that does not start with '{'");
        long dataLength = bytes.Length - 8 - (long)headerLength;
        var (tensors, metadata) = ParseHeader(bytes.AsSpan(8, (int)headerLength), sourceName);
        ValidateLayout(tensors, dataLength, sourceName);
        return new SafeTensorsFile(sourceName, tensors, metadata, bytes, 8 + (int)headerLength);
    }

    internal static int ElementSize(string dtype) => ElementSizes.TryGetValue(dtype, out int size) ? size : 0;

    internal static InvalidDataException Invalid(string source, string problem) => new($"Safetensors file '{source}' {problem}.");

    private static byte[] BuildHeader(IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    ArgumentNullException.ThrowIfNull(value, nameof(metadata));
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var tensor in tensors)
            {
                if (string.IsNullOrEmpty(tensor.Name)) throw new ArgumentException("A tensor name is empty.", nameof(tensors));
                if (tensor.Name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor.", nameof(tensors));
                if (!names.Add(tensor.Name)) throw new ArgumentException($"Tensor name '{tensor.Name}' is used twice.", nameof(tensors));
                ArgumentNullException.ThrowIfNull(tensor.Shape, nameof(tensors));
                long count = 1;
                foreach (int d in tensor.Shape)
                {
                    if (d < 0) throw new ArgumentException($"Tensor '{tensor.Name}' has a negative dimension.", nameof(tensors));
                    count *= d;
                }
                if (count != tensor.Data.Length)
                    throw new ArgumentException($"Tensor '{tensor.Name}' has shape [{string.Join(", ", tensor.Shape)}] ({count} elements) but {tensor.Data.Length} values.", nameof(tensors));
                long end = offset + count * sizeof(float);
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the data section starts 8-byte aligned (as the reference writer does).
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static void WriteBody(Stream stream, byte[] header, IReadOnlyList<NamedTensor> tensors)
    {
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        byte[]? swapBuffer = BitConverter.IsLittleEndian ? null : new byte[4096];
        foreach (var tensor in tensors)
        {
            ReadOnlySpan<float> values = tensor.Data.Span;
            if (swapBuffer is null)
            {
                stream.Write(MemoryMarshal.AsBytes(values));
                continue;
            }
            // Big-endian host: write little-endian explicitly.
            for (int i = 0; i < values.Length; i += swapBuffer.Length / 4)
            {
                int n = Math.Min(swapBuffer.Length / 4, values.Length - i);
                for (int k = 0; k < n; k++) BinaryPrimitives.WriteSingleLittleEndian(swapBuffer.AsSpan(4 * k), values[i + k]);
                stream.Write(swapBuffer, 0, 4 * n);
            }
        }
    }

    private static (List<SafeTensorInfo> Tensors, Dictionary<string, string> Metadata) ParseHeader(ReadOnlySpan<byte> header, string source)
    {
        var tensors = new List<SafeTensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
        try
        {
            Expect(ref reader, JsonTokenType.StartObject, source, "the header");
            while (true)
            {
                Next(ref reader, source);
                if (reader.TokenType == JsonTokenType.EndObject) break;
                string name = reader.GetString()!;
                if (!names.Add(name)) throw Invalid(source, $"has a header that lists '{name}' twice");
                if (name == "__metadata__")
                {
                    Expect(ref reader, JsonTokenType.StartObject, source, "__metadata__");
                    while (true)
                    {
                        Next(ref reader, source);
                        if (reader.TokenType == JsonTokenType.EndObject) break;
                        string key = reader.GetString()!;
                        Expect(ref reader, JsonTokenType.String, source, $"metadata value '{key}'");
                        if (!metadata.TryAdd(key, reader.GetString()!)) throw Invalid(source, $"has metadata key '{key}' twice");
                    }
                    continue;
                }
                tensors.Add(ParseTensor(ref reader, name, source));
            }
            if (reader.Read()) throw Invalid(source, "has data after the header's JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Safetensors file '{source}' has a header that is not valid JSON: {e.Message}", e);
        }
        return (tensors, metadata);
    }

    private static SafeTensorInfo ParseTensor(ref Utf8JsonReader reader, string name, string source)
    {
        Expect(ref reader, JsonTokenType.StartObject, source, $"tensor '{name}'");
        string? dtype = null;
        int[]? shape = null;
        long[]? offsets = null;
        while (true)
        {
            Next(ref reader, source);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string key = reader.GetString()!;
            switch (key)
            {
                case "dtype":
                    Expect(ref reader, JsonTokenType.String, source, $"dtype of tensor '{name}'");
                    dtype = reader.GetString();
                    break;
                case "shape":
                    shape = ReadIntegers(ref reader, source, $"shape of tensor '{name}'").Select(d => d <= int.MaxValue ? (int)d : throw Invalid(source, $"has tensor '{name}' with dimension {d} too large")).ToArray();
                    break;
                case "data_offsets":
                    offsets = ReadIntegers(ref reader, source, $"data_offsets of tensor '{name}'").ToArray();
                    break;
                default:
                    throw Invalid(source, $"has unknown key '{key}' in tensor '{name}'");
            }
        }
        if (dtype is null || shape is null || offsets is null)
            throw Invalid(source, $"has tensor '{name}' without {(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}");
        int elementSize = ElementSize(dtype);
        if (elementSize == 0) throw Invalid(source, $"has tensor '{name}' with unknown dtype '{dtype}'");
        if (offsets.Length != 2) throw Invalid(source, $"has tensor '{name}' whose data_offsets has {offsets.Length} numbers instead of 2");
        if (offsets[1] < offsets[0]) throw Invalid(source, $"has tensor '{name}' whose data_offsets [{offsets[0]}, {offsets[1]}] end before they begin");
        long count = 1;
        foreach (int d in shape)
        {
            count *= d;
            if (count > int.MaxValue) throw Invalid(source, $"has tensor '{name}' with more than {int.MaxValue} elements");
        }
        if (offsets[1] - offsets[0] != count * elementSize)
            throw Invalid(source, $"has tensor '{name}' of shape [{string.Join(", ", shape)}] and dtype {dtype} ({count * elementSize} bytes) but data_offsets [{offsets[0]}, {offsets[1]}] span {offsets[1] - offsets[0]} bytes");
        return new SafeTensorInfo(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static void ValidateLayout(List<SafeTensorInfo> tensors, long dataLength, string source)
    {
        var ordered = tensors.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
        long expectedBegin = 0;
        SafeTensorInfo? previous = null;
        foreach (var t in ordered)
        {
            if (t.Begin < expectedBegin)
                throw Invalid(source, $"has overlapping tensors: '{t.Name}' [{t.Begin}, {t.End}) overlaps '{previous!.Name}' [{previous.Begin}, {previous.End})");
            if (t.Begin > expectedBegin)
                throw Invalid(source, $"has a gap of {t.Begin - expectedBegin} bytes before tensor '{t.Name}' (data must be covered without holes)");
            if (t.End > dataLength)
                throw Invalid(source, $"is truncated: tensor '{t.Name}' ends at byte {t.End} of the data section, which has only {dataLength} bytes");
            expectedBegin = t.End;
            previous = t;
        }
        if (expectedBegin != dataLength)
            throw Invalid(source, $"has {dataLength - expectedBegin} bytes after the last tensor that no tensor covers");
    }

    private static List<long> ReadIntegers(ref Utf8JsonReader reader, string source, string what)
    {
        Expect(ref reader, JsonTokenType.StartArray, source, what);
        var values = new List<long>();
        while (true)
        {
            Next(ref reader, source);
            if (reader.TokenType == JsonTokenType.EndArray) return values;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long value) || value < 0)
                throw Invalid(source, $"has a {what} entry that is not a non-negative integer");
            values.Add(value);
        }
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string source, string what)
    {
        Next(ref reader, source);
        if (reader.TokenType != type) throw Invalid(source, $"has {what} as JSON {reader.TokenType} where {type} was expected");
    }

    private static void Next(ref Utf8JsonReader reader, string source)
    {
        if (!reader.Read()) throw Invalid(source, "has a header whose JSON ends early");
    }
}

/// <summary>A validated safetensors file held in memory.</summary>
public sealed class SafeTensorsFile
{
    private readonly byte[] _bytes;
    private readonly int _dataStart;
    private readonly Dictionary<string, SafeTensorInfo> _byName;

    internal SafeTensorsFile(string source, List<SafeTensorInfo> tensors, Dictionary<string, string> metadata, byte[] bytes, int dataStart)
    {
        Source = source;
        Tensors = tensors;
        Metadata = metadata;
        _bytes = bytes;
        _dataStart = dataStart;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Path or name the file was read from.</summary>
    public string Source { get; }

    /// <summary>Tensor entries in header order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The "__metadata__" string map (empty if absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Whether a tensor of that name is stored.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The header entry of a tensor.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor.</exception>
    public SafeTensorInfo Info(string name) =>
        _byName.TryGetValue(name, out var info) ? info : throw new KeyNotFoundException($"Safetensors file '{Source}' has no tensor '{name}'.");

    /// <summary>Copies an F32 tensor into <paramref name="destination"/> (which must have exactly its element count).</summary>
    /// <exception cref="InvalidDataException">The tensor is not F32.</exception>
    public void CopyFloat32(string name, Span<float> destination)
    {
        var info = Info(name);
        if (info.DType != "F32") throw SafeTensors.Invalid(Source, $"stores tensor '{name}' as {info.DType}; F32 was expected");
        int count = (int)((info.End - info.Begin) / sizeof(float));
        if (destination.Length != count)
            throw new ArgumentException($"Tensor '{name}' has {count} elements; the destination has {destination.Length}.", nameof(destination));
        ReadOnlySpan<byte> source = _bytes.AsSpan(_dataStart + (int)info.Begin, count * sizeof(float));
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
            return;
        }
        for (int i = 0; i < count; i++) destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(4 * i));
    }

    /// <summary>A new array with an F32 tensor's values.</summary>
    public float[] ReadFloat32(string name)
    {
        var info = Info(name);
        var values = new float[(info.End - info.Begin) / Math.Max(1, SafeTensors.ElementSize(info.DType))];
        CopyFloat32(name, values);
        return values;
    }

    /// <summary>
    /// Checks that every expected tensor is present with its shape and dtype, and (unless
    /// <paramref name="allowUnexpected"/>) that nothing else is stored. The error names the tensor.
    /// </summary>
    /// <exception cref="InvalidDataException">A tensor is missing, unexpected, or has another shape or dtype.</exception>
    public void Verify(IEnumerable<TensorSpec> expected, bool allowUnexpected = false)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spec in expected)
        {
            wanted.Add(spec.Name);
            if (!_byName.TryGetValue(spec.Name, out var info))
                throw SafeTensors.Invalid(Source, $"is missing tensor '{spec.Name}'");
            if (info.DType != spec.DType)
                throw SafeTensors.Invalid(Source, $"stores tensor '{spec.Name}' as {info.DType} but {spec.DType} is expected");
            if (!info.Shape.AsSpan().SequenceEqual(spec.Shape))
                throw SafeTensors.Invalid(Source, $"has tensor '{spec.Name}' with shape [{string.Join(", ", info.Shape)}] but the model expects [{string.Join(", ", spec.Shape)}]");
        }
        if (!allowUnexpected)
        {
            foreach (var info in Tensors)
            {
                if (!wanted.Contains(info.Name))
                    throw SafeTensors.Invalid(Source, $"has unexpected tensor '{info.Name}'");
            }
        }
    }
}
