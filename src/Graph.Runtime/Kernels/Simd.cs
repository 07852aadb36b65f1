using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Graph.Runtime.Kernels;

/// <summary>
/// The few vector operations the memory-bound kernels (matrix-vector products, reductions) need, abstracted over
/// the register width so that one generic loop serves every <see cref="KernelIsa"/>. Implementations are structs,
/// so the JIT specializes and inlines each call. Loads are unaligned: results never depend on buffer addresses.
/// </summary>
internal unsafe interface ISimd<TVector> where TVector : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }
    static abstract TVector Zero { get; }
    static abstract TVector Load(float* source);
    static abstract void Store(TVector value, float* destination);
    /// <summary>Lanes [0, count) from source and zero above (count ≤ <see cref="Count"/>), reading nothing beyond.</summary>
    static abstract TVector LoadFirst(float* source, int count);
    /// <summary>Writes lanes [0, count) of the value (count ≤ <see cref="Count"/>), touching nothing beyond.</summary>
    static abstract void StoreFirst(TVector value, float* destination, int count);
    static abstract TVector Broadcast(float value);
    /// <summary><c>a · b + c</c>, fused where the instruction set has FMA.</summary>
    static abstract TVector MultiplyAdd(TVector a, TVector b, TVector c);
    static abstract TVector Add(TVector a, TVector b);
    static abstract TVector Subtract(TVector a, TVector b);
    static abstract TVector Max(TVector a, TVector b);
    /// <summary>e^x per lane.</summary>
    static abstract TVector Exp(TVector value);
    /// <summary>Sum of the lanes, in a fixed order.</summary>
    static abstract float Sum(TVector value);
    /// <summary>Largest lane.</summary>
    static abstract float MaxAcross(TVector value);
    /// <summary>A mask of the lanes in [start, end), for <see cref="Keep"/>.</summary>
    static abstract TVector LaneMask(int start, int end);
    /// <summary><paramref name="value"/> with the lanes outside <paramref name="mask"/> set to zero (whatever they held, NaN included).</summary>
    static abstract TVector Keep(TVector value, TVector mask);
}

/// <summary>Whether a kernel's block ends in a partial vector, as a type, so that whole blocks test nothing per load.</summary>
internal interface IBlockTail { static abstract bool LastIsPartial { get; } }
internal readonly struct WholeVectors : IBlockTail { public static bool LastIsPartial => false; }
internal readonly struct PartialLastVector : IBlockTail { public static bool LastIsPartial => true; }

/// <summary>512-bit vectors with AVX-512F.</summary>
internal readonly unsafe struct Simd512 : ISimd<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* source) => Vector512.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> value, float* destination) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LoadFirst(float* source, int count) => Avx512F.MaskLoad(source, FirstLanes(count), Vector512<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFirst(Vector512<float> value, float* destination, int count) => Avx512F.MaskStore(destination, FirstLanes(count), value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector512<float> FirstLanes(int count) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Avx512F.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Exp(Vector512<float> value) => Vector512.Exp(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> value) => Vector512.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Vector512<float> value) => Simd256.MaxAcross(Vector256.Max(value.GetLower(), value.GetUpper()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LaneMask(int start, int end)
    {
        Vector512<int> lanes = Vector512<int>.Indices;
        return (Vector512.GreaterThanOrEqual(lanes, Vector512.Create(start)) & Vector512.LessThan(lanes, Vector512.Create(end))).AsSingle();
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Keep(Vector512<float> value, Vector512<float> mask) => value & mask;
}

/// <summary>256-bit vectors with AVX2 and FMA.</summary>
internal readonly unsafe struct Simd256 : ISimd<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* source) => Vector256.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> value, float* destination) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadFirst(float* source, int count) => Avx.MaskLoad(source, FirstLanes(count));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFirst(Vector256<float> value, float* destination, int count) => Avx.MaskStore(destination, FirstLanes(count), value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static Vector256<float> FirstLanes(int count) => Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Fma.MultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Exp(Vector256<float> value) => Vector256.Exp(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> value) => Vector256.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LaneMask(int start, int end)
    {
        Vector256<int> lanes = Vector256<int>.Indices;
        return (Vector256.GreaterThanOrEqual(lanes, Vector256.Create(start)) & Vector256.LessThan(lanes, Vector256.Create(end))).AsSingle();
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Keep(Vector256<float> value, Vector256<float> mask) => value & mask;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector256<float> value)
    {
        Vector128<float> half = Vector128.Max(value.GetLower(), value.GetUpper());
        return MathF.Max(MathF.Max(half[0], half[1]), MathF.Max(half[2], half[3]));
    }
}

/// <summary><see cref="Vector{T}"/> of the platform's width; multiply and add stay separate (no emulated FMA).</summary>
internal readonly unsafe struct SimdPortable : ISimd<Vector<float>>
{
    public static int Count => Vector<float>.Count;
    public static Vector<float> Zero => Vector<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Load(float* source) => Vector.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector<float> value, float* destination) => value.Store(destination);
    public static Vector<float> LoadFirst(float* source, int count)
    {
        Vector<float> value = default;
        float* lanes = (float*)&value;
        for (int i = 0; i < count; i++) lanes[i] = source[i];
        return value;
    }
    public static void StoreFirst(Vector<float> value, float* destination, int count)
    {
        float* lanes = (float*)&value;
        for (int i = 0; i < count; i++) destination[i] = lanes[i];
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Broadcast(float value) => new(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> MultiplyAdd(Vector<float> a, Vector<float> b, Vector<float> c) => a * b + c;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Add(Vector<float> a, Vector<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Subtract(Vector<float> a, Vector<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Max(Vector<float> a, Vector<float> b) => Vector.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Exp(Vector<float> value) => Vector.Exp(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector<float> value) => Vector.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> LaneMask(int start, int end)
    {
        Vector<int> lanes = Vector<int>.Indices;
        return (Vector.GreaterThanOrEqual(lanes, new Vector<int>(start)) & Vector.LessThan(lanes, new Vector<int>(end))).As<int, float>();
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Keep(Vector<float> value, Vector<float> mask) => value & mask;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector<float> value)
    {
        float max = value[0];
        for (int i = 1; i < Vector<float>.Count; i++) max = MathF.Max(max, value[i]);
        return max;
    }
}

/// <summary>One float per "vector": the scalar path.</summary>
internal readonly unsafe struct SimdScalar : ISimd<float>
{
    public static int Count => 1;
    public static float Zero => 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(float* source) => *source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float value, float* destination) => *destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LoadFirst(float* source, int count) => count > 0 ? *source : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(float value, float* destination, int count)
    {
        if (count > 0) *destination = value;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Broadcast(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MultiplyAdd(float a, float b, float c) => a * b + c;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float a, float b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Subtract(float a, float b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Max(float a, float b) => MathF.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Exp(float value) => MathF.Exp(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(float value) => value;
    // The one lane is kept when the mask is nonzero; the value passes through untouched (no bit tricks on floats).
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float LaneMask(int start, int end) => start <= 0 && end > 0 ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Keep(float value, float mask) => mask != 0f ? value : 0f;
}

/// <summary>
/// Copies short float runs (image rows of small networks, one k step of a GEMM micro-panel: 4 to 64 floats) with at
/// most four overlapping vector moves, the way memcpy does inline: per-run call overhead, not bandwidth, is what
/// these copies pay. Longer runs go to memmove.
/// </summary>
internal static unsafe class ShortCopy
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(float* source, float* destination, int count)
    {
        if (count > 64) Unsafe.CopyBlockUnaligned(destination, source, (uint)count * sizeof(float));
        else if (count >= 16 && Vector512.IsHardwareAccelerated)
        {
            // Vectors at 0, 16, 32 (as far as needed) and count − 16, the last overlapping the others.
            Vector512<float> first = Vector512.Load(source), last = Vector512.Load(source + count - 16);
            if (count > 32) Vector512.Load(source + 16).Store(destination + 16);
            if (count > 48) Vector512.Load(source + 32).Store(destination + 32);
            first.Store(destination);
            last.Store(destination + count - 16);
        }
        else if (count >= 8 && count <= 16 && Vector256.IsHardwareAccelerated)
        {
            Vector256<float> first = Vector256.Load(source), last = Vector256.Load(source + count - 8);
            first.Store(destination);
            last.Store(destination + count - 8);
        }
        else if (count >= 4 && count <= 8 && Vector128.IsHardwareAccelerated)
        {
            Vector128<float> first = Vector128.Load(source), last = Vector128.Load(source + count - 4);
            first.Store(destination);
            last.Store(destination + count - 4);
        }
        else if (count >= 4) Unsafe.CopyBlockUnaligned(destination, source, (uint)count * sizeof(float));
        else for (int i = 0; i < count; i++) destination[i] = source[i];
    }
}
