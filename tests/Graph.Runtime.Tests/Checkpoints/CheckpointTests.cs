using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Graph.Runtime.Checkpoints;
using Graph.Runtime.Optimizers;
using Graph.Runtime.Tests.Data;

namespace Graph.Runtime.Tests.Checkpoints;

public class CheckpointTests
{
    private static NamedTensor Tensor(string name, int[] shape, float start = 0) =>
        new(name, shape, Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(i => start + i * 0.5f).ToArray());

    /// <summary>A file as the reference Python writer lays it out: u64 LE header length, JSON, raw LE data.</summary>
    private static byte[] RawFile(string json, byte[] data, ulong? declaredLength = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    private static byte[] Floats(params float[] values) => values.SelectMany(v => { var b = new byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, v); return b; }).ToArray();

    [Fact]
    public void RoundTripsTensorsAndMetadata()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        NamedTensor[] tensors = [Tensor("dense.w", [3, 2]), Tensor("dense.b", [2], 10), Tensor("scalar", [])];
        SafeTensors.Write(path, tensors, new Dictionary<string, string> { ["epoch"] = "7", ["note"] = "quote \" and ü" });
        var file = SafeTensors.Read(path);
        Assert.Equal(["dense.w", "dense.b", "scalar"], file.Tensors.Select(t => t.Name));
        Assert.Equal([3, 2], file.Info("dense.w").Shape);
        Assert.Equal(tensors[0].Data.ToArray(), file.ReadFloat32("dense.w"));
        Assert.Equal(tensors[1].Data.ToArray(), file.ReadFloat32("dense.b"));
        Assert.Equal([0f], file.ReadFloat32("scalar"));
        Assert.Equal("7", file.Metadata["epoch"]);
        Assert.Equal("quote \" and ü", file.Metadata["note"]);
    }

    [Fact]
    public void LayoutIsSafetensors()
    {
        using var stream = new MemoryStream();
        SafeTensors.Write(stream, [new NamedTensor("a", [2], new float[] { 1f, -2f })]);
        byte[] bytes = stream.ToArray();
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, headerLength % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.Equal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", header.TrimEnd(' '));
        Assert.Equal(Floats(1f, -2f), bytes.Skip(8 + (int)headerLength).ToArray());
    }

    [Fact]
    public void ReadsFileLaidOutByReferenceWriter()
    {
        // Tensors out of header order relative to data, metadata, unpadded header: all allowed.
        byte[] bytes = RawFile("{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},\"a\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}}",
            Floats(1f, 2f, 3f));
        var file = SafeTensors.Read(bytes, "ref");
        Assert.Equal([1f, 2f], file.ReadFloat32("a"));
        Assert.Equal([3f], file.ReadFloat32("b"));
        Assert.Equal("pt", file.Metadata["format"]);
    }

    public static IEnumerable<object[]> CorruptFiles()
    {
        const string ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        yield return [new byte[] { 1, 2, 3 }, "too short"];
        yield return [RawFile(ok, Floats(1f, 2f), declaredLength: 1000), "header length 1000 exceeds"];
        yield return [RawFile(ok, Floats(1f)), "truncated: tensor 'a' ends at byte 8"];
        yield return [RawFile(ok, Floats(1f, 2f, 3f)), "4 bytes after the last tensor"];
        yield return [RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", Floats(1f, 2f)), "not valid JSON"];
        yield return [RawFile("[1,2]", Floats()), "does not start with '{'"];
        yield return [RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", Floats(1f, 2f)), "span 8 bytes"];
        yield return [RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", Floats(1f, 2f, 3f)), "overlapping"];
        yield return [RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", Floats(1f, 2f)), "gap of 4 bytes"];
        yield return [RawFile("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", Floats(1f, 2f)), "unknown dtype 'Q4'"];
        yield return [RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", Floats(1f, 2f)), "not a non-negative integer"];
        yield return [RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", Floats(1f, 2f)), "without data_offsets"];
        yield return [RawFile(ok.Replace("}}", "},\"a\":{}}"), Floats(1f, 2f)), "lists 'a' twice"];
        yield return [RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", Floats(1f, 2f)), "end before they begin"];
    }

    [Theory]
    [MemberData(nameof(CorruptFiles))]
    public void RejectsCorruptFilesWithSpecificMessage(byte[] bytes, string expectedFragment)
    {
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(bytes, "bad.safetensors"));
        Assert.Contains("bad.safetensors", e.Message);
        Assert.Contains(expectedFragment, e.Message);
    }

    [Fact]
    public void TruncatedFileOnDiskIsRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");
        SafeTensors.Write(path, [Tensor("w", [4, 4])]);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => SafeTensors.Read(path)).Message);
    }

    [Fact]
    public void VerifyNamesTheMismatchingTensor()
    {
        using var stream = new MemoryStream();
        SafeTensors.Write(stream, [Tensor("w", [3, 4]), Tensor("b", [4])]);
        var file = SafeTensors.Read(stream.ToArray(), "ckpt");
        file.Verify([new TensorSpec("w", [3, 4]), new TensorSpec("b", [4])]);
        var e = Assert.Throws<InvalidDataException>(() => file.Verify([new TensorSpec("w", [4, 3]), new TensorSpec("b", [4])]));
        Assert.Contains("tensor 'w' with shape [3, 4] but the model expects [4, 3]", e.Message);
        Assert.Contains("missing tensor 'c'", Assert.Throws<InvalidDataException>(() => file.Verify([new TensorSpec("c", [1])], allowUnexpected: true)).Message);
        Assert.Contains("unexpected tensor 'b'", Assert.Throws<InvalidDataException>(() => file.Verify([new TensorSpec("w", [3, 4])])).Message);
        Assert.Contains("as F32 but F16", Assert.Throws<InvalidDataException>(() => file.Verify([new TensorSpec("w", [3, 4], "F16")], true)).Message);
    }

    [Fact]
    public void FailedAtomicWriteLeavesOldFileAndNoTemporaryFiles()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        SafeTensors.Write(path, [Tensor("w", [2])]);
        byte[] original = File.ReadAllBytes(path);

        Assert.Throws<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[100]);
            throw new IOException("disk full (simulated)");
        }));
        // Invalid tensors are rejected before any file is touched.
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [new NamedTensor("w", [3], new float[2])]));

        Assert.Equal(original, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void AtomicWriteReplacesExistingFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("x.bin");
        File.WriteAllText(path, "old contents that are longer");
        AtomicFile.Write(path, s => s.Write("new"u8));
        Assert.Equal("new", File.ReadAllText(path));
    }

    [Fact]
    public void CheckpointRestoresModelAndAdamStateSoTrainingContinuesIdentically()
    {
        using var dir = new TempDirectory();
        string path = dir.File("ckpt.safetensors");
        float[] w = [0.5f, -1f, 2f, 0.25f, 1f, -0.5f], b = [0.1f, -0.2f];
        var adam = new Adam(0.01f, amsgrad: true);
        adam.Bind([w.Length, b.Length]);
        for (int t = 0; t < 3; t++) Step(adam, w, b, t);
        adam.LearningRate = 0.005f;
        NamedTensor[] parameters = [new("fc.weight", [3, 2], w), new("fc.bias", [2], b)];
        Checkpoint.Save(path, parameters, adam, new Dictionary<string, string> { ["epoch"] = "3" });

        float[] w2 = new float[6], b2 = new float[2];
        var adam2 = new Adam(0.01f, amsgrad: true);
        adam2.Bind([6, 2]);
        var metadata = Checkpoint.Load(path, [new("fc.weight", [3, 2], w2), new("fc.bias", [2], b2)], adam2);
        Assert.Equal("3", metadata["epoch"]);
        Assert.Equal("adam", metadata["optimizer.kind"]);
        Assert.Equal(3, adam2.StepCount);
        Assert.Equal(0.005f, adam2.LearningRate);
        Assert.Equal(w, w2);
        Assert.True(SafeTensors.Read(path).Contains("optimizer.adam.v_max.fc.bias"));

        for (int t = 3; t < 6; t++)
        {
            Step(adam, w, b, t);
            Step(adam2, w2, b2, t);
        }
        Assert.Equal(w, w2);
        Assert.Equal(b, b2);

        static void Step(Optimizer o, float[] w, float[] b, int t)
        {
            o.BeginStep();
            o.Update(0, w, w.Select((x, i) => MathF.Cos(x + i + t)).ToArray());
            o.Update(1, b, b.Select(x => x - 1f).ToArray());
        }
    }

    [Fact]
    public void LoadChecksBeforeModifyingAnything()
    {
        using var dir = new TempDirectory();
        string path = dir.File("ckpt.safetensors");
        var sgd = new Sgd(0.1f, momentum: 0.9f);
        sgd.Bind([4]);
        Checkpoint.Save(path, [new("w", [2, 2], new float[] { 1, 2, 3, 4 })], sgd);

        float[] target = [9, 9, 9, 9];
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, [new("w", [4, 1], target)]));
        Assert.Contains("'w' with shape [2, 2] but the model expects [4, 1]", e.Message);
        Assert.Equal([9f, 9f, 9f, 9f], target);

        var adam = new Adam();
        adam.Bind([4]);
        Assert.Contains("optimizer 'sgd', not 'adam'", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, [new("w", [2, 2], target)], adam)).Message);
        Assert.Equal([9f, 9f, 9f, 9f], target);

        // Without an optimizer the stored optimizer state is skipped.
        Checkpoint.Load(path, [new("w", [2, 2], target)]);
        Assert.Equal([1f, 2f, 3f, 4f], target);
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, [new("w", [4], target)], null, new Dictionary<string, string> { ["optimizer.kind"] = "x" }));
    }
}
