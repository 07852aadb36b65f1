using System;

namespace Graph;

/// <summary>
/// Marks a partial class whose static definition method builds a network with <see cref="Builder.ModelBuilder"/>.
/// The source generator evaluates that method at build time and emits forward, backward and training-step
/// code into the class. The method is <c>static void Define(ModelBuilder m)</c> unless <see cref="Definition"/> names another.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class ModelAttribute : Attribute
{
    /// <summary>Name of the static definition method (default "Define").</summary>
    public string Definition { get; set; } = "Define";
}
