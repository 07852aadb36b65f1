using System;
using Graph.Runtime.Initialization;

namespace Graph.Runtime.Data;

/// <summary>Seeded random train/validation/test splits.</summary>
public static class Splits
{
    /// <summary>
    /// Shuffles the sample indices and cuts them into train, validation and test subsets (copies).
    /// Like scikit-learn's train_test_split, a held-out part gets ⌈fraction·N⌉ samples; the training
    /// part gets the rest.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A fraction is outside [0, 1) or they leave no training sample.</exception>
    public static (Dataset Train, Dataset Validation, Dataset Test) TrainValidationTest(Dataset dataset, double validationFraction, double testFraction, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (!(validationFraction >= 0 && validationFraction < 1)) throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "Must be in [0, 1).");
        if (!(testFraction >= 0 && testFraction < 1)) throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "Must be in [0, 1).");
        int n = dataset.Count;
        int testCount = (int)Math.Ceiling(testFraction * n);
        int validationCount = (int)Math.Ceiling(validationFraction * n);
        int trainCount = n - testCount - validationCount;
        if (trainCount <= 0)
            throw new ArgumentOutOfRangeException(nameof(validationFraction), $"Fractions {validationFraction} + {testFraction} of {n} samples leave no training samples.");
        int[] order = Shuffling.Permutation(n, rng);
        return (dataset.Subset(order.AsSpan(0, trainCount)),
                dataset.Subset(order.AsSpan(trainCount, validationCount)),
                dataset.Subset(order.AsSpan(trainCount + validationCount, testCount)));
    }

    /// <summary>Train/validation split; the validation part gets ⌈fraction·N⌉ samples.</summary>
    public static (Dataset Train, Dataset Validation) TrainValidation(Dataset dataset, double validationFraction, Rng rng)
    {
        var (train, validation, _) = TrainValidationTest(dataset, validationFraction, 0, rng);
        return (train, validation);
    }
}
