using System;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Graph.Jit.Emit.IL;

/// <summary>
/// The methods a vector width offers to emitted loops, found once by reflection: the same
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

    public static VectorApi V512 => s_v512 ??= Build(typeof(Vector512), typeof(Vector512<float>), 16);

    public static VectorApi V256 => s_v256 ??= Build(typeof(Vector256), typeof(Vector256<float>), 8);

    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "The JIT path requires dynamic code; float instantiations exist in every runtime.")]
    [UnconditionalSuppressMessage("Trimming", "IL2060", Justification = "Intrinsic vector methods are part of the framework.")]
    private static VectorApi Build(Type statics, Type vector, int lanes)
    {
        Type f = typeof(float);
        Type fr = f.MakeByRefType();
        MethodInfo Op(string name, params Type[] ps) => vector.GetMethod(name, BindingFlags.Public | BindingFlags.Static, ps)
            ?? throw new MissingMethodException(vector.Name, name);
        return new VectorApi
        {
            Type = vector,
            Lanes = lanes,
            IsHardwareAccelerated = statics.GetProperty("IsHardwareAccelerated")!.GetMethod!,
            Load = Find(statics, "LoadUnsafe", fr, typeof(nuint)),
            Store = Find(statics, "StoreUnsafe", vector, fr, typeof(nuint)),
            Create = Find(statics, "Create", f),
            Add = Op("op_Addition", vector, vector),
            Sub = Op("op_Subtraction", vector, vector),
            Mul = Op("op_Multiply", vector, vector),
            Div = Op("op_Division", vector, vector),
            Neg = Op("op_UnaryNegation", vector),
            Max = Find(statics, "Max", vector, vector),
            Min = Find(statics, "Min", vector, vector),
            Exp = Find(statics, "Exp", vector),
            Log = Find(statics, "Log", vector),
            Sqrt = Find(statics, "Sqrt", vector),
            Abs = Find(statics, "Abs", vector),
            GreaterThan = Find(statics, "GreaterThan", vector, vector),
            LessThan = Find(statics, "LessThan", vector, vector),
            Equal = Find(statics, "Equals", vector, vector),
            Select = Find(statics, "ConditionalSelect", vector, vector, vector),
            CopySign = Find(statics, "CopySign", vector, vector),
            Sum = Find(statics, "Sum", vector),
            GetElement = Find(statics, "GetElement", vector, typeof(int)),
            Zero = vector.GetProperty("Zero")!.GetMethod!,
            One = vector.GetProperty("One")!.GetMethod!,
        };
    }

    /// <summary>
    /// The public static method <paramref name="name"/> of <paramref name="type"/> whose parameters are exactly
    /// <paramref name="parameters"/>, instantiating a one-parameter generic method definition with float.
    /// </summary>
    /// <remarks>
    /// Looked up by name and signature, never by listing the type's methods: Vector512 has hundreds of overloads and
    /// listing them was most of the first compile's IL emission time. The generic candidate's signature is the
    /// requested one with float replaced by the method's type parameter.
    /// </remarks>
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "The JIT path requires dynamic code.")]
    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "Framework methods.")]
    public static MethodInfo Find(Type type, string name, params Type[] parameters)
    {
        const BindingFlags PublicStatic = BindingFlags.Public | BindingFlags.Static;
        // Non-generic overloads first: C# overload resolution prefers them (Vector512.Create(float) over Create<T>(T)).
        var method = type.GetMethod(name, 0, PublicStatic, parameters)
            ?? type.GetMethod(name, 1, PublicStatic, Array.ConvertAll(parameters, Generalize))?.MakeGenericMethod(typeof(float));
        return method ?? throw new MissingMethodException(type.Name, name);
    }

    /// <summary><paramref name="type"/> with float replaced by the first generic method parameter (T, T&amp;, Vector512&lt;T&gt;).</summary>
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "The JIT path requires dynamic code.")]
    private static Type Generalize(Type type)
    {
        if (type == typeof(float)) return Type.MakeGenericMethodParameter(0);
        if (type.IsByRef) return Generalize(type.GetElementType()!).MakeByRefType();
        if (type.IsConstructedGenericType && Array.IndexOf(type.GetGenericArguments(), typeof(float)) >= 0)
            return type.GetGenericTypeDefinition().MakeGenericType(Array.ConvertAll(type.GetGenericArguments(), Generalize));
        return type;
    }
}

/// <summary>Scalar and helper methods emitted code calls.</summary>
internal static class Methods
{
    public static readonly MethodInfo Exp = typeof(MathF).GetMethod(nameof(MathF.Exp), new[] { typeof(float) })!;
    public static readonly MethodInfo Log = typeof(MathF).GetMethod(nameof(MathF.Log), new[] { typeof(float) })!;
    public static readonly MethodInfo Sqrt = typeof(MathF).GetMethod(nameof(MathF.Sqrt), new[] { typeof(float) })!;
    public static readonly MethodInfo Abs = typeof(MathF).GetMethod(nameof(MathF.Abs), new[] { typeof(float) })!;
    public static readonly MethodInfo Tanh = typeof(MathF).GetMethod(nameof(MathF.Tanh), new[] { typeof(float) })!;
    public static readonly MethodInfo Max = typeof(MathF).GetMethod(nameof(MathF.Max), new[] { typeof(float), typeof(float) })!;
    public static readonly MethodInfo Min = typeof(MathF).GetMethod(nameof(MathF.Min), new[] { typeof(float), typeof(float) })!;
    public static readonly MethodInfo Pow = typeof(MathF).GetMethod(nameof(MathF.Pow), new[] { typeof(float), typeof(float) })!;
    public static readonly MethodInfo IsNegativeInfinity = typeof(float).GetMethod(nameof(float.IsNegativeInfinity), new[] { typeof(float) })!;
    public static readonly MethodInfo FloatData = VectorApi.Find(typeof(MemoryMarshal), nameof(MemoryMarshal.GetArrayDataReference), typeof(float[]));
    public static readonly MethodInfo IntData = typeof(JitHelpers).GetMethod(nameof(JitHelpers.IntData))!;
    public static readonly MethodInfo SpanReference = VectorApi.Find(typeof(MemoryMarshal), nameof(MemoryMarshal.GetReference), typeof(Span<float>));
    public static readonly MethodInfo SpanLength = typeof(Span<float>).GetProperty(nameof(Span<float>.Length))!.GetMethod!;
    public static readonly ConstructorInfo NewSpan = typeof(Span<float>).GetConstructor(new[] { typeof(float[]), typeof(int), typeof(int) })!;
    public static readonly ConstructorInfo NewWholeSpan = typeof(Span<float>).GetConstructor(new[] { typeof(float[]) })!;
    public static readonly MethodInfo FiniteCheck = typeof(Graph.Runtime.Models.FiniteCheck).GetMethod(nameof(Graph.Runtime.Models.FiniteCheck.Check))!;
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
