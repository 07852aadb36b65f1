using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Graph.Runtime.Kernels;

namespace Graph.Runtime.Optimizers;

/// <summary>
/// An optimizer's per-element update written once over <see cref="Vector{T}"/> lanes. The struct
/// carries the step's scalars; the driver specializes on it (no delegate, no boxing, no allocation).
/// </summary>
internal interface IUpdateKernel
{
    /// <summary>Updates one vector of parameters <paramref name="p"/> given gradients <paramref name="g"/>
    /// and up to three state vectors (unused ones are zero and not stored back).</summary>
    void Apply(ref Vector<float> p, Vector<float> g, ref Vector<float> s0, ref Vector<float> s1, ref Vector<float> s2);
}

/// <summary>Runs an <see cref="IUpdateKernel"/> over whole tensors.</summary>
internal static class ElementwiseUpdate
{
    /// <summary>
    /// Where decaying optimizer state is cut to zero: 2⁻¹⁰⁰, far below anything that moves a parameter
    /// (Adam's step from such a moment is at most lr·2⁻¹⁰⁰/ε ≈ 10⁻²² lr).
    /// </summary>
    public static readonly float DecayedStateFloor = MathF.ScaleB(1f, -100);

    /// <summary>
    /// <paramref name="state"/>, or zero where its magnitude is below <see cref="DecayedStateFloor"/>. State that
    /// decays geometrically while its gradient is zero (Adam's moments, momentum buffers, RMSProp's averages) would
    /// otherwise sink through the subnormal range, and arithmetic on subnormals takes a microcode assist per
    /// instruction: the weights of MNIST's rarely lit border pixels made a 100 k-parameter Adam update 5× slower
    /// (34 → 160 µs) after a few hundred steps. PyTorch keeps such values; they differ from ours by less than 2⁻¹⁰⁰.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> FlushDecayed(Vector<float> state) =>
        Vector.ConditionalSelect(Vector.GreaterThanOrEqual(Vector.Abs(state), new Vector<float>(DecayedStateFloor)), state, Vector<float>.Zero);

    /// <summary>
    /// Applies <paramref name="kernel"/> to every element. State spans are either empty (unused) or
    /// as long as <paramref name="parameter"/>. The tail shorter than a vector goes through a
    /// zero-padded stack copy, so the scalar tail uses the very same formula (and float rounding,
    /// because vector lanes are IEEE single operations like scalar code).
    /// </summary>
    public static unsafe void Run<TKernel>(in TKernel kernel, Span<float> parameter, ReadOnlySpan<float> gradient,
        Span<float> state0, Span<float> state1, Span<float> state2)
        where TKernel : struct, IUpdateKernel
    {
        int n = parameter.Length;
        int parts = n >= ParallelThreshold ? Math.Min(WorkerPool.ThreadCount, n / (ParallelThreshold / 2)) : 1;
        if (parts <= 1)
        {
            RunRange(kernel, parameter, gradient, state0, state1, state2);
            return;
        }
        // Large tensors: split into vector-aligned ranges across the pool. Every element's update is independent and
        // computed by the same code, so the result is the same for any split.
        fixed (float* p = parameter)
        fixed (float* g = gradient)
        fixed (float* a = state0)
        fixed (float* b = state1)
        fixed (float* c = state2)
        {
            var job = UpdateJob<TKernel>.ForCurrentThread;
            job.Set(kernel, n, p, g, a, state0.Length != 0, b, state1.Length != 0, c, state2.Length != 0);
            try { WorkerPool.Run(job, parts); }
            finally { job.Set(default, 0, null, null, null, false, null, false, null, false); }
        }
    }

    // Below this many elements a second thread costs more to wake than it saves (~10 µs of single-core work).
    private const int ParallelThreshold = 1 << 15;

    private sealed unsafe class UpdateJob<TKernel> : ParallelJob where TKernel : struct, IUpdateKernel
    {
        [ThreadStatic] private static UpdateJob<TKernel>? t_instance;
        private TKernel _kernel;
        private int _length;
        private float* _p, _g, _a, _b, _c;
        private bool _hasA, _hasB, _hasC;

        public static UpdateJob<TKernel> ForCurrentThread => t_instance ??= new UpdateJob<TKernel>();

        public void Set(in TKernel kernel, int length, float* p, float* g, float* a, bool hasA, float* b, bool hasB, float* c, bool hasC)
        {
            _kernel = kernel;
            _length = length;
            _p = p; _g = g; _a = a; _b = b; _c = c;
            _hasA = hasA; _hasB = hasB; _hasC = hasC;
        }

        public override void Execute(int part, int partCount)
        {
            int width = Vector<float>.Count;
            int vectors = _length / width;
            int start = (int)((long)vectors * part / partCount) * width;
            int end = part == partCount - 1 ? _length : (int)((long)vectors * (part + 1) / partCount) * width;
            int count = end - start;
            if (count <= 0) return;
            RunRange(_kernel, new Span<float>(_p + start, count), new ReadOnlySpan<float>(_g + start, count),
                _hasA ? new Span<float>(_a + start, count) : default,
                _hasB ? new Span<float>(_b + start, count) : default,
                _hasC ? new Span<float>(_c + start, count) : default);
        }
    }

    private static void RunRange<TKernel>(in TKernel kernel, Span<float> parameter, ReadOnlySpan<float> gradient,
        Span<float> state0, Span<float> state1, Span<float> state2)
        where TKernel : struct, IUpdateKernel
    {
        // One loop specialized per combination of used states, so that the vector loop carries no per-element tests.
        bool has0 = state0.Length != 0, has1 = state1.Length != 0, has2 = state2.Length != 0;
        int i = (has0, has1, has2) switch
        {
            (false, false, false) => RunVectors<TKernel, Unused, Unused, Unused>(kernel, parameter, gradient, state0, state1, state2),
            (true, false, false) => RunVectors<TKernel, Used, Unused, Unused>(kernel, parameter, gradient, state0, state1, state2),
            (true, true, false) => RunVectors<TKernel, Used, Used, Unused>(kernel, parameter, gradient, state0, state1, state2),
            (true, true, true) => RunVectors<TKernel, Used, Used, Used>(kernel, parameter, gradient, state0, state1, state2),
            _ => RunVectors<TKernel, Flagged, Flagged, Flagged>(kernel, parameter, gradient, state0, state1, state2),
        };
        RunTail(kernel, parameter, gradient, state0, state1, state2, i);
    }

    /// <summary>Whether a state span takes part, as a type: <see cref="Flagged"/> reads it from the span's length.</summary>
    private interface IStateUse
    {
        static abstract bool IsUsed(int length);
    }

    private readonly struct Used : IStateUse
    {
        public static bool IsUsed(int length) => true;
    }

    private readonly struct Unused : IStateUse
    {
        public static bool IsUsed(int length) => false;
    }

    private readonly struct Flagged : IStateUse
    {
        public static bool IsUsed(int length) => length != 0;
    }

    /// <summary>The whole vectors; returns where the tail starts.</summary>
    private static int RunVectors<TKernel, TUse0, TUse1, TUse2>(in TKernel kernel, Span<float> parameter, ReadOnlySpan<float> gradient,
        Span<float> state0, Span<float> state1, Span<float> state2)
        where TKernel : struct, IUpdateKernel where TUse0 : struct, IStateUse where TUse1 : struct, IStateUse where TUse2 : struct, IStateUse
    {
        int n = parameter.Length;
        int width = Vector<float>.Count;
        bool has0 = TUse0.IsUsed(state0.Length), has1 = TUse1.IsUsed(state1.Length), has2 = TUse2.IsUsed(state2.Length);
        ref float p = ref MemoryMarshal.GetReference(parameter);
        ref float g = ref MemoryMarshal.GetReference(gradient);
        ref float a = ref MemoryMarshal.GetReference(state0);
        ref float b = ref MemoryMarshal.GetReference(state1);
        ref float c = ref MemoryMarshal.GetReference(state2);
        TKernel k = kernel;
        int i = 0;
        for (; i <= n - width; i += width)
        {
            nuint at = (nuint)i;
            Vector<float> vp = Vector.LoadUnsafe(ref p, at);
            Vector<float> vg = Vector.LoadUnsafe(ref g, at);
            Vector<float> v0 = has0 ? Vector.LoadUnsafe(ref a, at) : default;
            Vector<float> v1 = has1 ? Vector.LoadUnsafe(ref b, at) : default;
            Vector<float> v2 = has2 ? Vector.LoadUnsafe(ref c, at) : default;
            k.Apply(ref vp, vg, ref v0, ref v1, ref v2);
            vp.StoreUnsafe(ref p, at);
            if (has0) v0.StoreUnsafe(ref a, at);
            if (has1) v1.StoreUnsafe(ref b, at);
            if (has2) v2.StoreUnsafe(ref c, at);
        }
        return i;
    }

    /// <summary>The elements from <paramref name="i"/> on, fewer than a vector.</summary>
    private static void RunTail<TKernel>(in TKernel kernel, Span<float> parameter, ReadOnlySpan<float> gradient,
        Span<float> state0, Span<float> state1, Span<float> state2, int i)
        where TKernel : struct, IUpdateKernel
    {
        int n = parameter.Length;
        int width = Vector<float>.Count;
        bool has0 = state0.Length != 0, has1 = state1.Length != 0, has2 = state2.Length != 0;
        TKernel k = kernel;
        int rest = n - i;
        if (rest == 0) return;

        Span<float> tail = stackalloc float[5 * width];
        tail.Clear();
        Span<float> tp = tail.Slice(0, width), tg = tail.Slice(width, width);
        Span<float> t0 = tail.Slice(2 * width, width), t1 = tail.Slice(3 * width, width), t2 = tail.Slice(4 * width, width);
        parameter.Slice(i).CopyTo(tp);
        gradient.Slice(i).CopyTo(tg);
        if (has0) state0.Slice(i).CopyTo(t0);
        if (has1) state1.Slice(i).CopyTo(t1);
        if (has2) state2.Slice(i).CopyTo(t2);
        Vector<float> wp = new(tp), wg = new(tg), w0 = new(t0), w1 = new(t1), w2 = new(t2);
        k.Apply(ref wp, wg, ref w0, ref w1, ref w2);
        wp.CopyTo(tp);
        w0.CopyTo(t0);
        w1.CopyTo(t1);
        w2.CopyTo(t2);
        tp.Slice(0, rest).CopyTo(parameter.Slice(i));
        if (has0) t0.Slice(0, rest).CopyTo(state0.Slice(i));
        if (has1) t1.Slice(0, rest).CopyTo(state1.Slice(i));
        if (has2) t2.Slice(0, rest).CopyTo(state2.Slice(i));
    }
}
