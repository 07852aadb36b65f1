using System;
using System.Linq;
using System.Reflection;
using System.Runtime.Intrinsics;
using Graph.Jit.Emit.IL;

namespace Graph.Jit.Tests;

public class VectorApiTests
{
    /// <summary>
    /// <see cref="VectorApi.Find"/> looks a method up by name and generalized signature; the oracle scans every public
    /// static overload the way C# picks one (non-generic first, then a one-parameter generic instantiated with float).
    /// </summary>
    [Theory]
    [InlineData(typeof(Vector512), typeof(Vector512<float>))]
    [InlineData(typeof(Vector256), typeof(Vector256<float>))]
    public void Find_picks_the_overload_an_exhaustive_scan_picks(Type statics, Type vector)
    {
        Type f = typeof(float), fr = f.MakeByRefType();
        var requests = new (string Name, Type[] Parameters)[]
        {
            ("LoadUnsafe", new[] { fr, typeof(nuint) }), ("StoreUnsafe", new[] { vector, fr, typeof(nuint) }), ("Create", new[] { f }),
            ("Max", new[] { vector, vector }), ("Min", new[] { vector, vector }), ("Exp", new[] { vector }), ("Log", new[] { vector }),
            ("Sqrt", new[] { vector }), ("Abs", new[] { vector }), ("GreaterThan", new[] { vector, vector }), ("LessThan", new[] { vector, vector }),
            ("Equals", new[] { vector, vector }), ("ConditionalSelect", new[] { vector, vector, vector }), ("CopySign", new[] { vector, vector }),
            ("Sum", new[] { vector }), ("GetElement", new[] { vector, typeof(int) }),
        };
        foreach (var (name, parameters) in requests)
            Assert.Equal(Scan(statics, name, parameters), VectorApi.Find(statics, name, parameters));
        Assert.Throws<MissingMethodException>(() => VectorApi.Find(statics, "Exp", new[] { typeof(int) }));
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
