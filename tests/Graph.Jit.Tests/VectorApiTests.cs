using System;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Graph.Jit.Emit.IL;

namespace Graph.Jit.Tests;

public class VectorApiTests
{
    /// <summary>
    /// <see cref="VectorApi"/> takes its methods from method-group conversions; the oracle scans every public static
    /// overload the way C# picks one for these argument types (non-generic first, then a one-parameter generic
    /// instantiated with float).
    /// </summary>
    [Fact]
    public void Every_width_has_the_overloads_an_exhaustive_scan_picks()
    {
        foreach (var (api, statics) in new[] { (VectorApi.V512, typeof(Vector512)), (VectorApi.V256, typeof(Vector256)) })
        {
            Type v = api.Type, f = typeof(float), fr = f.MakeByRefType();
            var expected = new (MethodInfo Actual, string Name, Type[] Parameters)[]
            {
                (api.Load, "LoadUnsafe", new[] { fr, typeof(nuint) }), (api.Store, "StoreUnsafe", new[] { v, fr, typeof(nuint) }),
                (api.Create, "Create", new[] { f }), (api.Max, "Max", new[] { v, v }), (api.Min, "Min", new[] { v, v }),
                (api.Exp, "Exp", new[] { v }), (api.Log, "Log", new[] { v }), (api.Sqrt, "Sqrt", new[] { v }), (api.Abs, "Abs", new[] { v }),
                (api.GreaterThan, "GreaterThan", new[] { v, v }), (api.LessThan, "LessThan", new[] { v, v }),
                (api.Equal, "Equals", new[] { v, v }), (api.Select, "ConditionalSelect", new[] { v, v, v }),
                (api.CopySign, "CopySign", new[] { v, v }), (api.Sum, "Sum", new[] { v }), (api.GetElement, "GetElement", new[] { v, typeof(int) }),
            };
            foreach (var (actual, name, parameters) in expected)
                Assert.Equal(Scan(statics, name, parameters), actual);
        }
        Assert.Equal(Scan(typeof(MemoryMarshal), "GetArrayDataReference", new[] { typeof(float[]) }), Methods.FloatData);
        Assert.Equal(Scan(typeof(MemoryMarshal), "GetReference", new[] { typeof(Span<float>) }), Methods.SpanReference);
    }

    private static MethodInfo Scan(Type type, string name, Type[] parameters)
    {
        foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.Static).OrderBy(m => m.IsGenericMethodDefinition ? 1 : 0))
        {
            if (m.Name != name || m.GetParameters().Length != parameters.Length) continue;
            var candidate = m;
            if (m.IsGenericMethodDefinition)
            {
                if (m.GetGenericArguments().Length != 1) continue;
                try { candidate = m.MakeGenericMethod(typeof(float)); }
                catch (ArgumentException) { continue; }
            }
            if (candidate.GetParameters().Select(p => p.ParameterType).SequenceEqual(parameters)) return candidate;
        }
        throw new MissingMethodException(type.Name, name);
    }
}
