namespace Graph.Ir;

/// <summary>Element types a tensor can have.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float: what generated code computes in.</summary>
    Float32,
    /// <summary>64-bit IEEE float: what the reference interpreter computes in.</summary>
    Float64,
    /// <summary>32-bit integer, used for class labels.</summary>
    Int32,
}

/// <summary>Short names used by the printer and in error messages.</summary>
public static class DTypeNames
{
    /// <summary>"f32", "f64" or "i32".</summary>
    public static string Short(this DType type) => type switch
    {
        DType.Float32 => "f32",
        DType.Float64 => "f64",
        _ => "i32",
    };

    /// <summary>True for the floating-point types.</summary>
    public static bool IsFloat(this DType type) => type != DType.Int32;
}
