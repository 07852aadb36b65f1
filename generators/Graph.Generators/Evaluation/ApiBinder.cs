using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Reflection;
using Graph.Builder;
using Microsoft.CodeAnalysis;

namespace Graph.Generators.Evaluation;

/// <summary>
/// Maps the symbols a definition calls onto the generator's own compiled copy of the Graph API (and a
/// few pure BCL members), by containing type full name, member name and parameter types. Calling that
/// copy is what makes the build-time graph identical to the run-time one.
/// </summary>
internal static class ApiBinder
{
    /// <summary>The assembly holding the generator's copy of Graph.Core's types (the generator itself).</summary>
    private static readonly Assembly s_coreCopy = typeof(ModelBuilder).Assembly;

    /// <summary>The assembly name of the real Graph API, as user code references it.</summary>
    public const string GraphCoreAssemblyName = "Graph.Core";

    // Symbols differ per compilation, but their display strings do not: cache by signature text.
    private static readonly ConcurrentDictionary<string, MemberInfo?> s_members = new(StringComparer.Ordinal);

    /// <summary>True for types of the Graph API: declared in Graph.Core (namespaces Graph, Graph.Builder, Graph.Ir, ...).</summary>
    public static bool IsGraphApi(ITypeSymbol? type) =>
        type is not null && type.ContainingAssembly?.Name == GraphCoreAssemblyName;

    /// <summary>True for the pure BCL types whose static methods a definition may call (System.Math).</summary>
    public static bool IsAllowedBclType(ITypeSymbol? type) =>
        type is not null && type.ToDisplayString() == "System.Math";

    /// <summary>The runtime type for <paramref name="type"/> inside the generator, or null if it has none.</summary>
    public static Type? RuntimeType(ITypeSymbol type)
    {
        switch (type.SpecialType)
        {
            case SpecialType.System_Boolean: return typeof(bool);
            case SpecialType.System_Char: return typeof(char);
            case SpecialType.System_SByte: return typeof(sbyte);
            case SpecialType.System_Byte: return typeof(byte);
            case SpecialType.System_Int16: return typeof(short);
            case SpecialType.System_UInt16: return typeof(ushort);
            case SpecialType.System_Int32: return typeof(int);
            case SpecialType.System_UInt32: return typeof(uint);
            case SpecialType.System_Int64: return typeof(long);
            case SpecialType.System_UInt64: return typeof(ulong);
            case SpecialType.System_Single: return typeof(float);
            case SpecialType.System_Double: return typeof(double);
            case SpecialType.System_Decimal: return typeof(decimal);
            case SpecialType.System_String: return typeof(string);
            case SpecialType.System_Object: return typeof(object);
            case SpecialType.System_Void: return typeof(void);
        }
        if (type is IArrayTypeSymbol array)
        {
            if (array.Rank != 1) return null;
            return RuntimeType(array.ElementType)?.MakeArrayType();
        }
        if (type is not INamedTypeSymbol named) return null;
        if (named.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T)
        {
            var underlying = RuntimeType(named.TypeArguments[0]);
            return underlying is null ? null : typeof(Nullable<>).MakeGenericType(underlying);
        }
        if (IsGraphApi(named))
        {
            if (named.IsGenericType) return null;
            return s_coreCopy.GetType(MetadataName(named), throwOnError: false);
        }
        if (IsAllowedBclType(named)) return typeof(Math);
        return null;
    }

    /// <summary>The method or constructor <paramref name="method"/> binds to, or null when the generator's copy has none.</summary>
    public static MethodBase? Method(IMethodSymbol method) =>
        (MethodBase?)s_members.GetOrAdd("M:" + Signature(method), _ => FindMethod(method));

    /// <summary>The property <paramref name="property"/> binds to, or null.</summary>
    public static PropertyInfo? Property(IPropertySymbol property) =>
        (PropertyInfo?)s_members.GetOrAdd("P:" + property.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) + "(" +
            string.Join(",", property.Parameters.Select(p => p.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat))) + ")",
            _ => FindProperty(property));

    /// <summary>The static field <paramref name="field"/> binds to, or null.</summary>
    public static FieldInfo? Field(IFieldSymbol field) =>
        (FieldInfo?)s_members.GetOrAdd("F:" + field.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), _ =>
            RuntimeType(field.ContainingType)?.GetField(field.MetadataName, BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance));

    private static MethodBase? FindMethod(IMethodSymbol method)
    {
        if (method.IsGenericMethod) return null;
        var declaring = RuntimeType(method.ContainingType);
        if (declaring is null) return null;
        var parameters = new Type[method.Parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            var p = method.Parameters[i];
            var t = RuntimeType(p.Type);
            if (t is null) return null;
            parameters[i] = p.RefKind == RefKind.None ? t : t.MakeByRefType();
        }
        const BindingFlags flags = BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance;
        if (method.MethodKind == MethodKind.Constructor)
            return declaring.GetConstructor(BindingFlags.Public | BindingFlags.Instance, binder: null, parameters, modifiers: null);
        if (method.MethodKind == MethodKind.Conversion)
        {
            // Conversion operators overload on the return type, which GetMethod cannot select by.
            var returnType = RuntimeType(method.ReturnType);
            return declaring.GetMethods(flags).FirstOrDefault(m =>
                m.Name == method.MetadataName && m.ReturnType == returnType &&
                m.GetParameters().Select(p => p.ParameterType).SequenceEqual(parameters));
        }
        return declaring.GetMethod(method.MetadataName, flags, binder: null, parameters, modifiers: null);
    }

    private static PropertyInfo? FindProperty(IPropertySymbol property)
    {
        var declaring = RuntimeType(property.ContainingType);
        var returnType = RuntimeType(property.Type);
        if (declaring is null || returnType is null) return null;
        var indexTypes = property.Parameters.Select(p => RuntimeType(p.Type)).ToArray();
        if (indexTypes.Any(t => t is null)) return null;
        return declaring.GetProperty(property.MetadataName, BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance,
            binder: null, returnType, indexTypes!, modifiers: null);
    }

    /// <summary>"Graph.Builder.Tensor.Dense(int, string?, ...)": the cache key and the name used in messages.</summary>
    public static string Signature(IMethodSymbol method) =>
        method.ContainingType.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) + "." + method.MetadataName + "(" +
        string.Join(",", method.Parameters.Select(p => p.RefKind + " " + p.Type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat))) + ")";

    // Reflection names nested types "Outer+Inner".
    private static string MetadataName(INamedTypeSymbol type)
    {
        string name = type.MetadataName;
        for (var containing = type.ContainingType; containing is not null; containing = containing.ContainingType)
            name = containing.MetadataName + "+" + name;
        var ns = type.ContainingNamespace;
        return ns is null || ns.IsGlobalNamespace ? name : ns.ToDisplayString() + "." + name;
    }
}
