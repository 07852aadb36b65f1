using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Graph.Generators.Model;

/// <summary>
/// A diagnostic as plain data (descriptor id, location, message arguments), so that diagnostics can
/// travel through the cached pipeline. Descriptors are looked up by id when reported.
/// </summary>
public sealed record DiagnosticInfo(
    string Id,
    LocationInfo? Location,
    EquatableArray<string> MessageArgs,
    EquatableArray<LocationInfo> AdditionalLocations)
{
    /// <summary>Creates a diagnostic for <paramref name="descriptor"/>.</summary>
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] messageArgs) =>
        new(descriptor.Id, location, messageArgs.ToEquatableArray(), EquatableArray<LocationInfo>.Empty);

    /// <summary>Creates a diagnostic that also points at <paramref name="additionalLocations"/> (for example the helper calls that led to it).</summary>
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, IEnumerable<LocationInfo> additionalLocations, params string[] messageArgs) =>
        new(descriptor.Id, location, messageArgs.ToEquatableArray(), additionalLocations.ToEquatableArray());

    /// <summary>The Roslyn diagnostic.</summary>
    public Diagnostic ToDiagnostic()
    {
        var descriptor = DiagnosticDescriptors.ById(Id);
        return Diagnostic.Create(
            descriptor,
            Location?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None,
            AdditionalLocations.Select(l => l.ToLocation()),
            MessageArgs.Cast<object>().ToArray());
    }
}
