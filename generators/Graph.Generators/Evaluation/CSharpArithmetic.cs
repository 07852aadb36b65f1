using System;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace Graph.Generators.Evaluation;

/// <summary>
/// C# semantics for the built-in numeric conversions and operators on boxed values. Written with
/// C# casts and operators (never <see cref="Convert"/>, which rounds instead of truncating), so that
/// build-time arithmetic gives the same numbers as the definition would at run time.
/// </summary>
internal static class CSharpArithmetic
{
    /// <summary>True for the special types this class computes with.</summary>
    public static bool IsNumeric(SpecialType type) => type switch
    {
        SpecialType.System_SByte or SpecialType.System_Byte or SpecialType.System_Int16 or SpecialType.System_UInt16 or
        SpecialType.System_Int32 or SpecialType.System_UInt32 or SpecialType.System_Int64 or SpecialType.System_UInt64 or
        SpecialType.System_Char or SpecialType.System_Single or SpecialType.System_Double => true,
        _ => false,
    };

    /// <summary>True when <paramref name="value"/> is a boxed value of a type <see cref="IsNumeric"/> accepts.</summary>
    public static bool IsNumericValue(object? value) =>
        value is sbyte or byte or short or ushort or int or uint or long or ulong or char or float or double;

    /// <summary>The explicit (or implicit) numeric conversion of <paramref name="value"/> to <paramref name="target"/>.</summary>
    public static object Convert(object value, SpecialType target, bool isChecked)
    {
        // Route through the widest type of the source's kind; from there one C# cast to the target
        // has exactly the semantics of the direct cast (no double rounding: long→float casts from long).
        switch (value)
        {
            case double d: return isChecked ? FromDoubleChecked(d, target) : FromDouble(d, target);
            case float f: return target == SpecialType.System_Double ? (double)f : isChecked ? FromDoubleChecked(f, target) : FromFloat(f, target);
            case ulong u: return isChecked ? FromULongChecked(u, target) : FromULong(u, target);
            default:
                long l = value switch
                {
                    sbyte v => v, byte v => v, short v => v, ushort v => v, int v => v, uint v => v, long v => v, char v => v,
                    _ => throw new InvalidCastException($"{value.GetType().Name} is not a numeric type"),
                };
                return isChecked ? FromLongChecked(l, target) : FromLong(l, target);
        }
    }

    private static object FromLong(long v, SpecialType t) => t switch
    {
        SpecialType.System_SByte => (object)unchecked((sbyte)v), SpecialType.System_Byte => unchecked((byte)v),
        SpecialType.System_Int16 => unchecked((short)v), SpecialType.System_UInt16 => unchecked((ushort)v),
        SpecialType.System_Int32 => unchecked((int)v), SpecialType.System_UInt32 => unchecked((uint)v),
        SpecialType.System_Int64 => v, SpecialType.System_UInt64 => unchecked((ulong)v),
        SpecialType.System_Char => unchecked((char)v), SpecialType.System_Single => (float)v, SpecialType.System_Double => (double)v,
        _ => throw Unsupported(t),
    };

    private static object FromLongChecked(long v, SpecialType t) => t switch
    {
        SpecialType.System_SByte => (object)checked((sbyte)v), SpecialType.System_Byte => checked((byte)v),
        SpecialType.System_Int16 => checked((short)v), SpecialType.System_UInt16 => checked((ushort)v),
        SpecialType.System_Int32 => checked((int)v), SpecialType.System_UInt32 => checked((uint)v),
        SpecialType.System_Int64 => v, SpecialType.System_UInt64 => checked((ulong)v),
        SpecialType.System_Char => checked((char)v), SpecialType.System_Single => (float)v, SpecialType.System_Double => (double)v,
        _ => throw Unsupported(t),
    };

    private static object FromULong(ulong v, SpecialType t) => t switch
    {
        SpecialType.System_SByte => (object)unchecked((sbyte)v), SpecialType.System_Byte => unchecked((byte)v),
        SpecialType.System_Int16 => unchecked((short)v), SpecialType.System_UInt16 => unchecked((ushort)v),
        SpecialType.System_Int32 => unchecked((int)v), SpecialType.System_UInt32 => unchecked((uint)v),
        SpecialType.System_Int64 => unchecked((long)v), SpecialType.System_UInt64 => v,
        SpecialType.System_Char => unchecked((char)v), SpecialType.System_Single => (float)v, SpecialType.System_Double => (double)v,
        _ => throw Unsupported(t),
    };

    private static object FromULongChecked(ulong v, SpecialType t) => t switch
    {
        SpecialType.System_SByte => (object)checked((sbyte)v), SpecialType.System_Byte => checked((byte)v),
        SpecialType.System_Int16 => checked((short)v), SpecialType.System_UInt16 => checked((ushort)v),
        SpecialType.System_Int32 => checked((int)v), SpecialType.System_UInt32 => checked((uint)v),
        SpecialType.System_Int64 => checked((long)v), SpecialType.System_UInt64 => v,
        SpecialType.System_Char => checked((char)v), SpecialType.System_Single => (float)v, SpecialType.System_Double => (double)v,
        _ => throw Unsupported(t),
    };

    // Every switch below casts its first arm to object: otherwise the arms' best common type (double)
    // would silently turn every result into a double before boxing.

    // Floating-point to integer casts truncate toward zero, as in C#; out-of-range values behave as
    // the host runtime's casts do (saturating on .NET 9+), the same runtime family the user's code runs on.
    private static object FromDouble(double v, SpecialType t) => t switch
    {
        SpecialType.System_SByte => (object)unchecked((sbyte)v), SpecialType.System_Byte => unchecked((byte)v),
        SpecialType.System_Int16 => unchecked((short)v), SpecialType.System_UInt16 => unchecked((ushort)v),
        SpecialType.System_Int32 => unchecked((int)v), SpecialType.System_UInt32 => unchecked((uint)v),
        SpecialType.System_Int64 => unchecked((long)v), SpecialType.System_UInt64 => unchecked((ulong)v),
        SpecialType.System_Char => unchecked((char)v), SpecialType.System_Single => (float)v, SpecialType.System_Double => v,
        _ => throw Unsupported(t),
    };

    private static object FromFloat(float v, SpecialType t) => t switch
    {
        SpecialType.System_SByte => (object)unchecked((sbyte)v), SpecialType.System_Byte => unchecked((byte)v),
        SpecialType.System_Int16 => unchecked((short)v), SpecialType.System_UInt16 => unchecked((ushort)v),
        SpecialType.System_Int32 => unchecked((int)v), SpecialType.System_UInt32 => unchecked((uint)v),
        SpecialType.System_Int64 => unchecked((long)v), SpecialType.System_UInt64 => unchecked((ulong)v),
        SpecialType.System_Char => unchecked((char)v), SpecialType.System_Single => v, SpecialType.System_Double => (double)v,
        _ => throw Unsupported(t),
    };

    private static object FromDoubleChecked(double v, SpecialType t) => t switch
    {
        SpecialType.System_SByte => (object)checked((sbyte)v), SpecialType.System_Byte => checked((byte)v),
        SpecialType.System_Int16 => checked((short)v), SpecialType.System_UInt16 => checked((ushort)v),
        SpecialType.System_Int32 => checked((int)v), SpecialType.System_UInt32 => checked((uint)v),
        SpecialType.System_Int64 => checked((long)v), SpecialType.System_UInt64 => checked((ulong)v),
        SpecialType.System_Char => checked((char)v), SpecialType.System_Single => (float)v, SpecialType.System_Double => v,
        _ => throw Unsupported(t),
    };

    /// <summary>
    /// A built-in binary operator. After the compiler's implicit conversions both operands of a
    /// numeric operator have the same type (shifts excepted: their right operand is an int).
    /// </summary>
    public static object Binary(BinaryOperatorKind op, object left, object right, bool isChecked)
    {
        switch (left)
        {
            case bool a when right is bool b:
                return op switch
                {
                    BinaryOperatorKind.And => a & b, BinaryOperatorKind.Or => a | b, BinaryOperatorKind.ExclusiveOr => a ^ b,
                    BinaryOperatorKind.Equals => a == b, BinaryOperatorKind.NotEquals => a != b,
                    _ => throw UnsupportedOperator(op, "bool"),
                };
            case int a when op is BinaryOperatorKind.LeftShift or BinaryOperatorKind.RightShift or BinaryOperatorKind.UnsignedRightShift:
                return Shift(op, a, (int)right);
            case long a when op is BinaryOperatorKind.LeftShift or BinaryOperatorKind.RightShift or BinaryOperatorKind.UnsignedRightShift:
                return op switch { BinaryOperatorKind.LeftShift => a << (int)right, BinaryOperatorKind.RightShift => a >> (int)right, _ => (long)((ulong)a >> (int)right) };
            case int a when right is int b: return isChecked ? IntChecked(op, a, b) : Int(op, a, b);
            case long a when right is long b: return isChecked ? LongChecked(op, a, b) : Long(op, a, b);
            case double a when right is double b: return Double(op, a, b);
            case float a when right is float b: return Single(op, a, b);
            default:
                throw new NotSupportedException($"operator {OperatorText(op)} on {TypeName(left)} and {TypeName(right)}");
        }
    }

    private static object Shift(BinaryOperatorKind op, int a, int b) => op switch
    {
        BinaryOperatorKind.LeftShift => a << b,
        BinaryOperatorKind.RightShift => a >> b,
        _ => (int)((uint)a >> b),
    };

    private static object Int(BinaryOperatorKind op, int a, int b) => op switch
    {
        BinaryOperatorKind.Add => unchecked(a + b), BinaryOperatorKind.Subtract => unchecked(a - b),
        BinaryOperatorKind.Multiply => unchecked(a * b), BinaryOperatorKind.Divide => a / b, BinaryOperatorKind.Remainder => a % b,
        BinaryOperatorKind.And => a & b, BinaryOperatorKind.Or => a | b, BinaryOperatorKind.ExclusiveOr => a ^ b,
        _ => Compare(op, a.CompareTo(b), "int"),
    };

    private static object IntChecked(BinaryOperatorKind op, int a, int b) => op switch
    {
        BinaryOperatorKind.Add => checked(a + b), BinaryOperatorKind.Subtract => checked(a - b),
        BinaryOperatorKind.Multiply => checked(a * b), _ => Int(op, a, b),
    };

    private static object Long(BinaryOperatorKind op, long a, long b) => op switch
    {
        BinaryOperatorKind.Add => unchecked(a + b), BinaryOperatorKind.Subtract => unchecked(a - b),
        BinaryOperatorKind.Multiply => unchecked(a * b), BinaryOperatorKind.Divide => a / b, BinaryOperatorKind.Remainder => a % b,
        BinaryOperatorKind.And => a & b, BinaryOperatorKind.Or => a | b, BinaryOperatorKind.ExclusiveOr => a ^ b,
        _ => Compare(op, a.CompareTo(b), "long"),
    };

    private static object LongChecked(BinaryOperatorKind op, long a, long b) => op switch
    {
        BinaryOperatorKind.Add => checked(a + b), BinaryOperatorKind.Subtract => checked(a - b),
        BinaryOperatorKind.Multiply => checked(a * b), _ => Long(op, a, b),
    };

    // IEEE comparisons: every comparison with NaN is false except !=, so they cannot go through CompareTo.
    private static object Double(BinaryOperatorKind op, double a, double b) => op switch
    {
        BinaryOperatorKind.Add => a + b, BinaryOperatorKind.Subtract => a - b, BinaryOperatorKind.Multiply => a * b,
        BinaryOperatorKind.Divide => a / b, BinaryOperatorKind.Remainder => a % b,
        BinaryOperatorKind.Equals => a == b, BinaryOperatorKind.NotEquals => a != b,
        BinaryOperatorKind.LessThan => a < b, BinaryOperatorKind.LessThanOrEqual => a <= b,
        BinaryOperatorKind.GreaterThan => a > b, BinaryOperatorKind.GreaterThanOrEqual => a >= b,
        _ => throw UnsupportedOperator(op, "double"),
    };

    private static object Single(BinaryOperatorKind op, float a, float b) => op switch
    {
        BinaryOperatorKind.Add => a + b, BinaryOperatorKind.Subtract => a - b, BinaryOperatorKind.Multiply => a * b,
        BinaryOperatorKind.Divide => a / b, BinaryOperatorKind.Remainder => a % b,
        BinaryOperatorKind.Equals => a == b, BinaryOperatorKind.NotEquals => a != b,
        BinaryOperatorKind.LessThan => a < b, BinaryOperatorKind.LessThanOrEqual => a <= b,
        BinaryOperatorKind.GreaterThan => a > b, BinaryOperatorKind.GreaterThanOrEqual => a >= b,
        _ => throw UnsupportedOperator(op, "float"),
    };

    private static object Compare(BinaryOperatorKind op, int order, string type) => op switch
    {
        BinaryOperatorKind.Equals => order == 0, BinaryOperatorKind.NotEquals => order != 0,
        BinaryOperatorKind.LessThan => order < 0, BinaryOperatorKind.LessThanOrEqual => order <= 0,
        BinaryOperatorKind.GreaterThan => order > 0, BinaryOperatorKind.GreaterThanOrEqual => order >= 0,
        _ => throw UnsupportedOperator(op, type),
    };

    /// <summary>A built-in unary operator (+, -, ~, !).</summary>
    public static object Unary(UnaryOperatorKind op, object operand, bool isChecked) => (op, operand) switch
    {
        (UnaryOperatorKind.Plus, _) => operand,  // object: keeps every arm's own boxed type
        (UnaryOperatorKind.Not, bool b) => !b,
        (UnaryOperatorKind.Minus, int i) => isChecked ? checked(-i) : unchecked(-i),
        (UnaryOperatorKind.Minus, long l) => isChecked ? checked(-l) : unchecked(-l),
        (UnaryOperatorKind.Minus, double d) => -d,
        (UnaryOperatorKind.Minus, float f) => -f,
        (UnaryOperatorKind.BitwiseNegation, int i) => ~i,
        (UnaryOperatorKind.BitwiseNegation, long l) => ~l,
        _ => throw new NotSupportedException($"unary operator {op} on {TypeName(operand)}"),
    };

    /// <summary>Adds one to (or subtracts one from) a value of its own type, as ++ and -- do.</summary>
    public static object Step(object value, bool increment, bool isChecked)
    {
        int delta = increment ? 1 : -1;
        return value switch
        {
            int i => (object)(isChecked ? checked(i + delta) : unchecked(i + delta)),
            long l => isChecked ? checked(l + delta) : unchecked(l + delta),
            double d => d + delta,
            float f => f + delta,
            _ => throw new NotSupportedException($"{(increment ? "++" : "--")} on {TypeName(value)}"),
        };
    }

    /// <summary>Formats a value as string concatenation and interpolation do, but always with the invariant culture.</summary>
    public static string FormatInvariant(object? value, string? format = null) => value switch
    {
        null => "",
        string s => s,
        IFormattable f => f.ToString(format, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static NotSupportedException Unsupported(SpecialType t) => new($"conversion to {t}");

    private static NotSupportedException UnsupportedOperator(BinaryOperatorKind op, string type) => new($"operator {OperatorText(op)} on {type}");

    private static string TypeName(object? value) => value?.GetType().Name ?? "null";

    /// <summary>The C# token of a binary operator, for messages.</summary>
    public static string OperatorText(BinaryOperatorKind op) => op switch
    {
        BinaryOperatorKind.Add => "+", BinaryOperatorKind.Subtract => "-", BinaryOperatorKind.Multiply => "*",
        BinaryOperatorKind.Divide => "/", BinaryOperatorKind.Remainder => "%", BinaryOperatorKind.LeftShift => "<<",
        BinaryOperatorKind.RightShift => ">>", BinaryOperatorKind.UnsignedRightShift => ">>>", BinaryOperatorKind.And => "&",
        BinaryOperatorKind.Or => "|", BinaryOperatorKind.ExclusiveOr => "^", BinaryOperatorKind.ConditionalAnd => "&&",
        BinaryOperatorKind.ConditionalOr => "||", BinaryOperatorKind.Equals => "==", BinaryOperatorKind.NotEquals => "!=",
        BinaryOperatorKind.LessThan => "<", BinaryOperatorKind.LessThanOrEqual => "<=", BinaryOperatorKind.GreaterThan => ">",
        BinaryOperatorKind.GreaterThanOrEqual => ">=", _ => op.ToString(),
    };
}
