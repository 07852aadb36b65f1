using System;
using System.Collections.Generic;
using System.Globalization;
using Graph.Ir;
using Graph.Lowering;
using Graph.Runtime.Kernels;
using Graph.Runtime.Models;

namespace Graph.Jit;

/// <summary>
/// Where every buffer kind of a plan lives in a <see cref="ModelStorage"/>: float arrays (inputs, parameters,
/// gradients, states, constants) and int arrays (labels) by slot, plus the convolution and pooling geometries.
/// Deterministic for a plan, so emitted code (which indexes slots) and storage (which fills them) agree.
/// </summary>
internal sealed class StorageLayout
{
    private readonly Dictionary<string, int> _floatSlots = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _intSlots = new(StringComparer.Ordinal);

    public StorageLayout(CompiledModelPlan plan)
    {
        Plan = plan;
        foreach (var i in plan.Inputs)
        {
            if (i.Kind == StorageKind.Label) _intSlots[Key(StorageKind.Label, i.Name)] = _intSlots.Count;
            else _floatSlots[Key(StorageKind.Input, i.Name)] = _floatSlots.Count;
        }
        foreach (var p in plan.Parameters)
        {
            _floatSlots[Key(StorageKind.Parameter, p.Name)] = _floatSlots.Count;
            _floatSlots[Key(StorageKind.Gradient, p.Name)] = _floatSlots.Count;
        }
        foreach (var s in plan.States) _floatSlots[Key(StorageKind.State, s.Name)] = _floatSlots.Count;
        for (int c = 0; c < plan.Constants.Count; c++) _floatSlots[Key(StorageKind.Constant, c.ToString(CultureInfo.InvariantCulture))] = _floatSlots.Count;
        // Geometries in program order (the generated class declares them as it meets them).
        foreach (var program in Programs(plan))
        {
            foreach (var k in program.Kernels)
            {
                if (k is ConvKernel c) ConvIndex(c);
                else if (k is PoolKernel p) PoolIndex(p);
            }
        }
    }

    public CompiledModelPlan Plan { get; }

    public int FloatSlotCount => _floatSlots.Count;

    public int IntSlotCount => _intSlots.Count;

    public List<Conv2dShape> ConvShapes { get; } = new();

    public List<Pool2dShape> PoolShapes { get; } = new();

    /// <summary>The plan's programs in the generated class's order.</summary>
    public static IEnumerable<ProgramPlan> Programs(CompiledModelPlan plan)
    {
        // Enum.GetValues is in ascending order; sorting the keys instead JIT-compiled a dozen framework methods (the
        // sort and comparer over an enum) at every process's first compile.
        foreach (var kind in Enum.GetValues<ProgramKind>())
            if (plan.Program(kind) is { } program) yield return program;
    }

    private static string Key(StorageKind kind, string name) => ((int)kind).ToString(CultureInfo.InvariantCulture) + "|" + name;

    public int FloatSlot(StorageKind kind, string name) => _floatSlots[Key(kind, name)];

    public int IntSlot(string name) => _intSlots[Key(StorageKind.Label, name)];

    /// <summary>Slot of a non-arena float buffer.</summary>
    public int FloatSlot(PlanBuffer b) => b.Kind == StorageKind.Constant
        ? FloatSlot(StorageKind.Constant, b.ConstantIndex.ToString(CultureInfo.InvariantCulture))
        : FloatSlot(b.Kind, b.Name);

    public static Conv2dShape ConvShape(ConvKernel k) => new(k.Channels, k.Height, k.Width, k.OutChannels,
        k.Window.KernelH, k.Window.KernelW, k.Window.StrideH, k.Window.StrideW, k.Window.PadH, k.Window.PadW);

    public static Pool2dShape PoolShape(PoolKernel p) => new(p.Channels, p.Height, p.Width,
        p.Window.KernelH, p.Window.KernelW, p.Window.StrideH, p.Window.StrideW, p.Window.PadH, p.Window.PadW);

    // Linear searches with the records' own ==: a model has a few geometries, and a Dictionary or IndexOf over these
    // structs would JIT-compile framework comparers at every process's first compile (not in the ReadyToRun image).
    public int ConvIndex(ConvKernel k)
    {
        var s = ConvShape(k);
        for (int i = 0; i < ConvShapes.Count; i++) if (ConvShapes[i] == s) return i;
        ConvShapes.Add(s);
        return ConvShapes.Count - 1;
    }

    public int PoolIndex(PoolKernel k)
    {
        var s = PoolShape(k);
        for (int i = 0; i < PoolShapes.Count; i++) if (PoolShapes[i] == s) return i;
        PoolShapes.Add(s);
        return PoolShapes.Count - 1;
    }
}

/// <summary>
/// The storage of one compiled model: the arena of intermediates, the convolution workspace, inputs, labels,
/// parameters, gradients, states and constants. Emitted code reads it through its fields (it is the target the
/// DynamicMethods' delegates are closed over).
/// </summary>
internal sealed class ModelStorage
{
    /// <summary>The planned arena of intermediates.</summary>
    public readonly float[] Arena;

    /// <summary>Convolution scratch.</summary>
    public readonly float[] Workspace;

    /// <summary>Float arrays by slot (<see cref="StorageLayout"/>).</summary>
    public readonly float[][] Floats;

    /// <summary>Label arrays by slot.</summary>
    public readonly int[][] Ints;

    /// <summary>Convolution geometries by index.</summary>
    public readonly Conv2dShape[] ConvShapes;

    /// <summary>Pooling geometries by index.</summary>
    public readonly Pool2dShape[] PoolShapes;

    /// <summary>Per-epilogue compiled bodies, closed over this storage (set once after emission).</summary>
    public EpilogueBody[] Epilogues = Array.Empty<EpilogueBody>();

    /// <summary>Checked mode: the flag every program tests after each kernel (<see cref="Graph.Runtime.Models.ICompiledModel.CheckFinite"/>).</summary>
    public bool CheckFinite;

    /// <summary>Checked mode: per kernel with checks, the values to check (set once after emission).</summary>
    public FiniteCheckCall[][] FiniteChecks = Array.Empty<FiniteCheckCall[]>();

    /// <summary>The seed that keys dropout masks.</summary>
    public readonly ulong Seed;

    public readonly int MaxBatch;

    public StorageLayout Layout { get; }

    public ModelStorage(StorageLayout layout, int maxBatch, ulong seed)
    {
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "The maximum batch must be at least 1.");
        Layout = layout;
        var plan = layout.Plan;
        MaxBatch = maxBatch;
        Seed = seed;
        var (perBatch, constant) = plan.ArenaSize;
        Arena = new float[checked((int)(constant + perBatch * maxBatch))];
        Floats = new float[layout.FloatSlotCount][];
        Ints = new int[layout.IntSlotCount][];
        foreach (var i in plan.Inputs)
        {
            if (i.Kind == StorageKind.Label) Ints[layout.IntSlot(i.Name)] = new int[checked((int)i.Shape.ConstantSize * maxBatch)];
            else Floats[layout.FloatSlot(StorageKind.Input, i.Name)] = new float[checked((int)i.Shape.ConstantSize * maxBatch)];
        }
        foreach (var p in plan.Parameters)
        {
            Floats[layout.FloatSlot(StorageKind.Parameter, p.Name)] = new float[p.Shape.ConstantSize];
            Floats[layout.FloatSlot(StorageKind.Gradient, p.Name)] = new float[p.Shape.ConstantSize];
        }
        foreach (var s in plan.States) Floats[layout.FloatSlot(StorageKind.State, s.Name)] = new float[s.Shape.ConstantSize];
        for (int c = 0; c < plan.Constants.Count; c++)
        {
            var data = plan.Constants[c];
            var values = new float[data.Length];
            for (int i = 0; i < data.Length; i++) values[i] = (float)data[i];
            Floats[layout.FloatSlot(StorageKind.Constant, c.ToString(CultureInfo.InvariantCulture))] = values;
        }
        ConvShapes = layout.ConvShapes.ToArray();
        PoolShapes = layout.PoolShapes.ToArray();
        int workspace = 0;
        foreach (var s in ConvShapes) workspace = Math.Max(workspace, Conv2d.WorkspaceLength(s, maxBatch));
        Workspace = workspace == 0 ? Array.Empty<float>() : new float[workspace];
    }

    public float[] Parameter(string name) => Floats[Layout.FloatSlot(StorageKind.Parameter, name)];

    public float[] Gradient(string name) => Floats[Layout.FloatSlot(StorageKind.Gradient, name)];

    public float[] State(string name) => Floats[Layout.FloatSlot(StorageKind.State, name)];

    /// <summary>The float array of a buffer (the arena for intermediates).</summary>
    public float[] ArrayOf(PlanBuffer b) => b.Kind == StorageKind.Arena ? Arena : Floats[Layout.FloatSlot(b)];

    /// <summary>The elements a view covers at a batch size.</summary>
    public Span<float> SpanOf(View v, int batch) => SpanOf(ArrayOf(v.Buffer), v, batch);

    private static Span<float> SpanOf(float[] array, View v, int batch)
    {
        var b = v.Buffer;
        int offset = b.Kind == StorageKind.Arena ? checked((int)(b.OffsetConstant + b.OffsetPerBatch * batch)) : 0;
        return array.AsSpan(offset, checked((int)v.Size.Value(batch)));
    }

    /// <summary>
    /// Checked mode after one kernel (emitted programs call it when <see cref="CheckFinite"/> is set):
    /// <see cref="FiniteCheck.Check"/> on each value the kernel wrote, in <see cref="CheckedMode.Sites"/> order.
    /// One call instead of the checks inline keeps the emitted methods small, so they JIT-compile faster.
    /// </summary>
    public void RunFiniteChecks(int kernel, int batch)
    {
        foreach (var c in FiniteChecks[kernel])
            FiniteCheck.Check(SpanOf(c.FloatSlot < 0 ? Arena : Floats[c.FloatSlot], c.View, batch), c.NodeText, c.OpName, c.File, c.Line);
    }
}

/// <summary>One check of checked mode with everything resolved at emission: the array slot (-1: the arena) and the blame texts.</summary>
internal sealed record FiniteCheckCall(int FloatSlot, View View, string NodeText, string OpName, string File, int Line);
