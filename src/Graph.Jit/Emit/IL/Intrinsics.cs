using System;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Graph.Jit.Emit.IL;

/// <summary>
/// The methods a vector width offers to emitted loops, found once: the same
/// <c>Vector512</c>/<c>Vector256</c> methods and operators the C# emitter's text calls.
/// </summary>
internal sealed class VectorApi
{
    public required Type Type { get; init; }
    public required int Lanes { get; init; }
    public required MethodInfo IsHardwareAccelerated { get; init; }
    public required MethodInfo Load { get; init; }
    public required MethodInfo Store { get; init; }
    public required MethodInfo Create { get; init; }
    public required MethodInfo Add { get; init; }
    public required MethodInfo Sub { get; init; }
    public required MethodInfo Mul { get; init; }
    public required MethodInfo Div { get; init; }
    public required MethodInfo Neg { get; init; }
    public required MethodInfo Max { get; init; }
    public required MethodInfo Min { get; init; }
    public required MethodInfo Exp { get; init; }
    public required MethodInfo Log { get; init; }
    public required MethodInfo Sqrt { get; init; }
    public required MethodInfo Abs { get; init; }
    public required MethodInfo GreaterThan { get; init; }
    public required MethodInfo LessThan { get; init; }
    public required MethodInfo Equal { get; init; }
    public required MethodInfo Select { get; init; }
    public required MethodInfo CopySign { get; init; }
    public required MethodInfo Sum { get; init; }
    public required MethodInfo GetElement { get; init; }
    public required MethodInfo Zero { get; init; }
    public required MethodInfo One { get; init; }

    private static VectorApi? s_v512, s_v256;

    public static VectorApi V512 => s_v512 ??= Build<Vector512<float>>(typeof(Vector512), 16,
        Vector512.LoadUnsafe, Vector512.StoreUnsafe, Vector512.Create, Vector512.Max, Vector512.Min, Vector512.Exp, Vector512.Log,
        Vector512.Sqrt, Vector512.Abs, Vector512.GreaterThan, Vector512.LessThan, Vector512.Equals, Vector512.ConditionalSelect,
        Vector512.CopySign, Vector512.Sum, Vector512.GetElement);

    public static VectorApi V256 => s_v256 ??= Build<Vector256<float>>(typeof(Vector256), 8,
        Vector256.LoadUnsafe, Vector256.StoreUnsafe, Vector256.Create, Vector256.Max, Vector256.Min, Vector256.Exp, Vector256.Log,
        Vector256.Sqrt, Vector256.Abs, Vector256.GreaterThan, Vector256.LessThan, Vector256.Equals, Vector256.ConditionalSelect,
        Vector256.CopySign, Vector256.Sum, Vector256.GetElement);

    private delegate TVector LoadUnsafe<TVector>(ref readonly float source, nuint offset);
    private delegate void StoreUnsafe<TVector>(TVector value, ref float destination, nuint offset);

    /// <summary>
    /// The static methods come in as method groups converted to delegates: C# overload resolution picks each overload
    /// exactly as it does for the C# emitter's text, and no reflection lists Vector512's hundreds of overloads (that
    /// listing was most of the first compile's IL emission time). Operators and properties are looked up by name.
    /// </summary>
    private static VectorApi Build<TVector>(Type statics, int lanes,
        LoadUnsafe<TVector> load, StoreUnsafe<TVector> store, Func<float, TVector> create,
        Func<TVector, TVector, TVector> max, Func<TVector, TVector, TVector> min, Func<TVector, TVector> exp, Func<TVector, TVector> log,
        Func<TVector, TVector> sqrt, Func<TVector, TVector> abs, Func<TVector, TVector, TVector> greaterThan,
        Func<TVector, TVector, TVector> lessThan, Func<TVector, TVector, TVector> equal, Func<TVector, TVector, TVector, TVector> select,
        Func<TVector, TVector, TVector> copySign, Func<TVector, float> sum, Func<TVector, int, float> getElement)
    {
        Type vector = typeof(TVector);
        MethodInfo Op(string name, params Type[] ps) => vector.GetMethod(name, BindingFlags.Public | BindingFlags.Static, ps)
            ?? throw new MissingMethodException(vector.Name, name);
        return new VectorApi
        {
            Type = vector,
            Lanes = lanes,
            IsHardwareAccelerated = statics.GetProperty("IsHardwareAccelerated")!.GetMethod!,
            Load = load.Method,
            Store = store.Method,
            Create = create.Method,
            Add = Op("op_Addition", vector, vector),
            Sub = Op("op_Subtraction", vector, vector),
            Mul = Op("op_Multiply", vector, vector),
            Div = Op("op_Division", vector, vector),
            Neg = Op("op_UnaryNegation", vector),
            Max = max.Method,
            Min = min.Method,
            Exp = exp.Method,
            Log = log.Method,
            Sqrt = sqrt.Method,
            Abs = abs.Method,
            GreaterThan = greaterThan.Method,
            LessThan = lessThan.Method,
            Equal = equal.Method,
            Select = select.Method,
            CopySign = copySign.Method,
            Sum = sum.Method,
            GetElement = getElement.Method,
            Zero = vector.GetProperty("Zero")!.GetMethod!,
            One = vector.GetProperty("One")!.GetMethod!,
        };
    }
}

/// <summary>Scalar and helper methods emitted code calls.</summary>
internal static class Methods
{
    private delegate ref float ArrayData(float[] array);
    private delegate ref float SpanData(Span<float> span);

    public static readonly MethodInfo Exp = typeof(MathF).GetMethod(nameof(MathF.Exp), new[] { typeof(float) })!;
    public static readonly MethodInfo Log = typeof(MathF).GetMethod(nameof(MathF.Log), new[] { typeof(float) })!;
    public static readonly MethodInfo Sqrt = typeof(MathF).GetMethod(nameof(MathF.Sqrt), new[] { typeof(float) })!;
    public static readonly MethodInfo Abs = typeof(MathF).GetMethod(nameof(MathF.Abs), new[] { typeof(float) })!;
    public static readonly MethodInfo Tanh = typeof(MathF).GetMethod(nameof(MathF.Tanh), new[] { typeof(float) })!;
    public static readonly MethodInfo Max = typeof(MathF).GetMethod(nameof(MathF.Max), new[] { typeof(float), typeof(float) })!;
    public static readonly MethodInfo Min = typeof(MathF).GetMethod(nameof(MathF.Min), new[] { typeof(float), typeof(float) })!;
    public static readonly MethodInfo Pow = typeof(MathF).GetMethod(nameof(MathF.Pow), new[] { typeof(float), typeof(float) })!;
    public static readonly MethodInfo IsNegativeInfinity = typeof(float).GetMethod(nameof(float.IsNegativeInfinity), new[] { typeof(float) })!;
    public static readonly MethodInfo FloatData = ((ArrayData)MemoryMarshal.GetArrayDataReference).Method;
    public static readonly MethodInfo IntData = typeof(JitHelpers).GetMethod(nameof(JitHelpers.IntData))!;
    public static readonly MethodInfo SpanReference = ((SpanData)MemoryMarshal.GetReference).Method;
    public static readonly MethodInfo SpanLength = typeof(Span<float>).GetProperty(nameof(Span<float>.Length))!.GetMethod!;
    public static readonly ConstructorInfo NewSpan = typeof(Span<float>).GetConstructor(new[] { typeof(float[]), typeof(int), typeof(int) })!;
    public static readonly ConstructorInfo NewWholeSpan = typeof(Span<float>).GetConstructor(new[] { typeof(float[]) })!;
    public static readonly ConstructorInfo NewReadOnlySpan = typeof(ReadOnlySpan<float>).GetConstructor(new[] { typeof(float[]), typeof(int), typeof(int) })!;
    public static readonly MethodInfo StreamKey = typeof(Graph.Runtime.Models.CounterRandom).GetMethod(nameof(Graph.Runtime.Models.CounterRandom.StreamKey))!;
    public static readonly MethodInfo Uniform = typeof(Graph.Runtime.Models.CounterRandom).GetMethod(nameof(Graph.Runtime.Models.CounterRandom.Uniform))!;
}

/// <summary>Small helpers emitted programs call for data movement (the same span operations the generated code performs).</summary>
internal static class JitHelpers
{
    public static ref int IntData(int[] array) => ref MemoryMarshal.GetArrayDataReference(array);

    public static void Clear(float[] array, int offset, int length) => array.AsSpan(offset, length).Clear();

    public static void Fill(float[] array, int offset, int length, float value) => array.AsSpan(offset, length).Fill(value);

    public static void Copy(float[] source, int sourceOffset, int sourceLength, float[] destination, int destinationOffset, int destinationLength) =>
        source.AsSpan(sourceOffset, sourceLength).CopyTo(destination.AsSpan(destinationOffset, destinationLength));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyBlock(float[] source, int sourceOffset, float[] destination, int destinationOffset, int length) =>
        source.AsSpan(sourceOffset, length).CopyTo(destination.AsSpan(destinationOffset, length));
}
