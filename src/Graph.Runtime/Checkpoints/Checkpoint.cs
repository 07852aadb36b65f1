using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using Graph.Runtime.Optimizers;

namespace Graph.Runtime.Checkpoints;

/// <summary>
/// Model (and optionally optimizer) checkpoints as safetensors files. Parameters are stored under
/// their own names; optimizer state buffers as "optimizer.{kind}.{state}.{parameter name}" (e.g.
/// "optimizer.adam.m.dense1.weight") with the parameter's shape; the optimizer's kind, step count
/// and learning rate go in the metadata under "optimizer.kind", "optimizer.step" and
/// "optimizer.learning_rate". The optimizer's parameter indices are the positions in the
/// parameter list, so pass the parameters in the order the optimizer was bound with.
/// </summary>
public static class Checkpoint
{
    /// <summary>Prefix of optimizer state tensor names.</summary>
    public const string OptimizerPrefix = "optimizer.";

    private const string KindKey = "optimizer.kind";
    private const string StepKey = "optimizer.step";
    private const string LearningRateKey = "optimizer.learning_rate";

    /// <summary>Writes the parameters, the optimizer state (if given) and the metadata atomically.</summary>
    /// <exception cref="ArgumentException">Metadata uses a reserved "optimizer." key, or the optimizer is bound to other sizes.</exception>
    public static void Save(string path, IReadOnlyList<NamedTensor> parameters, Optimizer? optimizer = null,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var tensors = new List<NamedTensor>(parameters);
        var allMetadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
        {
            foreach (var (key, value) in metadata)
            {
                if (key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                    throw new ArgumentException($"Metadata key '{key}' is reserved for optimizer state.", nameof(metadata));
                allMetadata[key] = value;
            }
        }
        if (optimizer is not null)
        {
            CheckBinding(optimizer, parameters);
            foreach (var entry in optimizer.State)
            {
                var parameter = parameters[entry.ParameterIndex];
                tensors.Add(new NamedTensor(StateTensorName(optimizer, entry.Name, parameter.Name), parameter.Shape, entry.Data));
            }
            allMetadata[KindKey] = optimizer.Kind;
            allMetadata[StepKey] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture);
            allMetadata[LearningRateKey] = optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture);
        }
        SafeTensors.Write(path, tensors, allMetadata);
    }

    /// <summary>
    /// Reads a checkpoint, verifies it holds exactly the given parameters (names, shapes, F32) and,
    /// when <paramref name="optimizer"/> is given, matching optimizer state; then copies the values
    /// into the parameters' memory and restores the optimizer (state, step count, learning rate).
    /// Nothing is modified unless the whole file checks out. Without an optimizer, stored optimizer
    /// state is ignored. Returns the metadata.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is corrupt, or its contents do not match (the message names the tensor).</exception>
    public static IReadOnlyDictionary<string, string> Load(string path, IReadOnlyList<NamedTensor> parameters, Optimizer? optimizer = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        foreach (var p in parameters)
        {
            long count = 1;
            foreach (int d in p.Shape) count *= d;
            if (count != p.Data.Length)
                throw new ArgumentException($"Parameter '{p.Name}' has shape [{string.Join(", ", p.Shape)}] but {p.Data.Length} values.", nameof(parameters));
        }
        var file = SafeTensors.Read(path);
        var expected = new List<TensorSpec>();
        foreach (var p in parameters) expected.Add(new TensorSpec(p.Name, p.Shape));
        var stateEntries = new List<OptimizerStateEntry>();
        long step = 0;
        float learningRate = 0;
        if (optimizer is not null)
        {
            CheckBinding(optimizer, parameters);
            if (!file.Metadata.TryGetValue(KindKey, out string? kind))
                throw SafeTensors.Invalid(path, "has no optimizer state");
            if (kind != optimizer.Kind)
                throw SafeTensors.Invalid(path, $"holds state of optimizer '{kind}', not '{optimizer.Kind}'");
            if (!file.Metadata.TryGetValue(StepKey, out string? stepText) || !long.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out step))
                throw SafeTensors.Invalid(path, $"has no valid '{StepKey}' metadata");
            if (!file.Metadata.TryGetValue(LearningRateKey, out string? lrText) || !float.TryParse(lrText, NumberStyles.Float, CultureInfo.InvariantCulture, out learningRate))
                throw SafeTensors.Invalid(path, $"has no valid '{LearningRateKey}' metadata");
            foreach (var entry in optimizer.State)
            {
                var parameter = parameters[entry.ParameterIndex];
                string name = StateTensorName(optimizer, entry.Name, parameter.Name);
                expected.Add(new TensorSpec(name, parameter.Shape));
                stateEntries.Add(entry with { Data = new float[entry.Data.Length] });
            }
        }
        // Optimizer tensors are allowed (and skipped) only when no optimizer is being restored.
        file.Verify(expected, allowUnexpected: true);
        foreach (var info in file.Tensors)
        {
            bool known = expected.Exists(e => e.Name == info.Name);
            if (!known && (optimizer is not null || !info.Name.StartsWith(OptimizerPrefix, StringComparison.Ordinal)))
                throw SafeTensors.Invalid(path, $"has unexpected tensor '{info.Name}'");
        }

        // Read optimizer state into scratch arrays first, so a failure cannot leave it half restored.
        for (int i = 0; i < stateEntries.Count; i++)
        {
            var entry = stateEntries[i];
            file.CopyFloat32(StateTensorName(optimizer!, entry.Name, parameters[entry.ParameterIndex].Name), entry.Data);
        }
        foreach (var p in parameters) file.CopyFloat32(p.Name, p.Data.Span);
        if (optimizer is not null)
        {
            optimizer.Restore(step, stateEntries);
            optimizer.LearningRate = learningRate;
        }
        return file.Metadata;
    }

    /// <summary>Name under which an optimizer state buffer of a parameter is stored.</summary>
    public static string StateTensorName(Optimizer optimizer, string stateName, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        return $"{OptimizerPrefix}{optimizer.Kind}.{stateName}.{parameterName}";
    }

    private static void CheckBinding(Optimizer optimizer, IReadOnlyList<NamedTensor> parameters)
    {
        if (!optimizer.IsBound) throw new ArgumentException("The optimizer is not bound to the parameters.", nameof(optimizer));
        if (optimizer.ParameterCount != parameters.Count)
            throw new ArgumentException($"The optimizer is bound to {optimizer.ParameterCount} parameters but {parameters.Count} were given.", nameof(parameters));
        for (int i = 0; i < parameters.Count; i++)
        {
            if (optimizer.ParameterLength(i) != parameters[i].Data.Length)
                throw new ArgumentException($"Parameter {i} ('{parameters[i].Name}') has {parameters[i].Data.Length} values but the optimizer was bound with {optimizer.ParameterLength(i)}.", nameof(parameters));
        }
    }
}
