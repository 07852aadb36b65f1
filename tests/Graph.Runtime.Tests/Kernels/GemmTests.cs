using System;
using System.Collections.Generic;
using System.Linq;
using Graph.Runtime.Kernels;
using static Graph.Runtime.Tests.Kernels.KernelTestData;

namespace Graph.Runtime.Tests.Kernels;

public class GemmTests
{
    // Awkward sizes: 1, vector-width misfits, sizes past one tile/one cache block (KC 256, MC 144), and m or n 1 (matrix-vector path).
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 17, 3), (17, 1, 129), (1, 129, 300), (129, 1, 17), (3, 3, 3), (17, 129, 3), (129, 17, 33),
        (13, 47, 300), (200, 70, 20), (31, 33, 257), (150, 300, 64),
        // More rows than GEMM reads B in place for (GemmBInPlace.MaxRows): B packed.
        (300, 40, 20),
        // Narrow products (N well below the packed tile width): one and two k blocks.
        (64, 10, 300), (300, 5, 257), (150, 9, 20),
        // Few rows (the 6×64 AVX-512 tile): one and two k blocks, edge tiles in both directions.
        (6, 100, 300), (16, 130, 25),
        // Narrow path (N up to two vectors): around one and two vector widths of every ISA, rows not a multiple of the
        // 8-row block, k over three blocks.
        (3, 10, 1), (17, 8, 129), (10, 9, 17), (9, 16, 513), (129, 17, 3), (20, 31, 65), (33, 32, 257),
        // Matrix-vector outputs left over after whole vectors: one partial vector.
        (1, 10, 128), (1, 31, 5), (1, 15, 2),
    ];

    private static readonly (Transpose A, Transpose B)[] Layouts =
        [(Transpose.None, Transpose.None), (Transpose.None, Transpose.Transposed), (Transpose.Transposed, Transpose.None), (Transpose.Transposed, Transpose.Transposed)];

    public static IEnumerable<object[]> Isas() => SupportedIsas();

    [Theory]
    [MemberData(nameof(Isas))]
    public void MatchesReferenceForAllShapesLayoutsAndAccumulateModes(KernelIsa isa)
    {
        int seed = 0;
        WithIsa(isa, () =>
        {
            foreach (var (m, n, k) in Shapes)
                foreach (var (transA, transB) in Layouts)
                    foreach (bool accumulate in new[] { false, true })
                        CheckProduct(transA, transB, m, n, k, accumulate, seed++, $"{isa} {transA}/{transB} {m}x{n}x{k} accumulate={accumulate}");
        });
    }

    private static void CheckProduct(Transpose transA, Transpose transB, int m, int n, int k, bool accumulate, int seed, string context)
    {
        // Leading dimensions larger than the rows they hold; the gaps must never be read into results or written.
        int aRows = transA == Transpose.None ? m : k, aCols = transA == Transpose.None ? k : m;
        int bRows = transB == Transpose.None ? k : n, bCols = transB == Transpose.None ? n : k;
        int lda = aCols + 3, ldb = bCols + 5, ldc = n + 2;
        float[] a = Random(aRows * lda, seed), b = Random(bRows * ldb, seed + 1000), c = Random(m * ldc, seed + 2000);
        float[] original = (float[])c.Clone();
        var (product, scale) = ReferenceKernels.Gemm(transA, transB, m, n, k, a, lda, b, ldb);

        Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);

        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double expected = product[i * n + j] + (accumulate ? original[i * ldc + j] : 0);
                AssertClose(expected, scale[i * n + j] + 1, c[i * ldc + j], $"{context} at ({i},{j})");
            }
            for (int j = n; j < ldc && i * ldc + j < c.Length; j++)
                Assert.Equal(original[i * ldc + j], c[i * ldc + j]);
        }
    }

    /// <summary>
    /// Each form of the narrow path (<see cref="NarrowForm"/>) against the reference, at sizes 1, 3, 17 and 129 (N 2 to 17) in each
    /// dimension it lays along lanes or blocks (partial vectors, blocks and column groups), with every layout of B and
    /// both accumulate modes; the test also checks that the shapes really take each form at this instruction set.
    /// </summary>
    [Theory]
    [MemberData(nameof(Isas))]
    public unsafe void NarrowFormsMatchReference(KernelIsa isa)
    {
        int width = isa switch
        {
            KernelIsa.Avx512 => 16,
            KernelIsa.Avx2 => 8,
            KernelIsa.Vector => System.Numerics.Vector<float>.Count,
            _ => 1,
        };
        var taken = new Dictionary<NarrowForm, int>();
        int seed = 7000;
        WithIsa(isa, () =>
        {
            foreach (int m in new[] { 3, 17, 129 })
                foreach (int n in new[] { 2, 3, 10, 17 })
                    foreach (int k in new[] { 1, 3, 17, 129 })
                        foreach (var (transA, transB) in Layouts)
                        {
                            if (!GemmNarrow.Handles(n, width)) continue;
                            var problem = new GemmProblem(transA, transB, m, n, k, null, 0, null, 0, null, 0, false);
                            NarrowForm form = GemmNarrow.FormFor(problem, width);
                            taken[form] = taken.GetValueOrDefault(form) + 1;
                            foreach (bool accumulate in new[] { false, true })
                                CheckProduct(transA, transB, m, n, k, accumulate, seed++, $"{isa} {form} {transA}/{transB} {m}x{n}x{k} accumulate={accumulate}");
                        }
        });
        // Every vector width takes all three forms on these shapes; the scalar path has no padding lanes to save.
        NarrowForm[] expected = width == 1 ? [NarrowForm.RowVectors] : [NarrowForm.RowVectors, NarrowForm.Dots, NarrowForm.ColumnVectors];
        foreach (NarrowForm form in expected) Assert.True(taken.GetValueOrDefault(form) > 0, $"{isa}: no shape took the {form} form");
    }

    /// <summary>
    /// The packing transposition (16×16 register tiles with AVX-512, 8×8 and 4×4 blocks otherwise) copies exactly the
    /// block, at sizes around and between tile sizes, and writes nothing in the destination's gaps.
    /// </summary>
    [Theory]
    [MemberData(nameof(Isas))]
    public unsafe void TransposeBlockCopiesExactlyTheBlock(KernelIsa isa)
    {
        int[] sizes = [1, 3, 8, 10, 16, 17, 33, 129];
        WithIsa(isa, () =>
        {
            foreach (int rows in sizes)
                foreach (int cols in sizes)
                {
                    int sourceStride = cols + 3, destinationStride = rows + 5;
                    float[] source = Random(rows * sourceStride, rows * 1000 + cols);
                    float[] destination = Enumerable.Repeat(-7f, cols * destinationStride + 16).ToArray();
                    fixed (float* s = source, d = destination)
                        GemmPacking.TransposeBlock(s, sourceStride, d, destinationStride, rows, cols);
                    for (int p = 0; p < cols; p++)
                        for (int r = 0; r < destinationStride; r++)
                        {
                            float expected = r < rows ? source[r * sourceStride + p] : -7f;
                            Assert.True(expected.Equals(destination[p * destinationStride + r]), $"{isa} {rows}x{cols}: ({p},{r})");
                        }
                    for (int i = cols * destinationStride; i < destination.Length; i++) Assert.Equal(-7f, destination[i]);
                }
        });
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void EpiloguesRunOnceOnFinishedValues(KernelIsa isa)
    {
        WithIsa(isa, () =>
        {
            // Includes sizes above the parallel thresholds (GEMM and matrix-vector), so epilogues also run split across threads.
            foreach (var (m, n, k) in new[] { (1, 40, 300), (40, 1, 300), (37, 70, 300), (129, 129, 17), (5, 6, 0), (200, 300, 40), (1, 700, 400), (700, 1, 400), (37, 10, 300), (700, 10, 400), (701, 30, 300) })
            {
                float[] a = Random(m * k, 1), b = Random(k * n, 2), c = Random(m * n, 3);
                float[] start = (float[])c.Clone();
                var (product, scale) = ReferenceKernels.Gemm(Transpose.None, Transpose.None, m, n, k, a, k, b, n);
                var recorder = new RecordingEpilogue(new int[m * n], n);

                Gemm.Multiply(Transpose.None, Transpose.None, m, n, k, a, k, b, n, c, n, accumulate: true, recorder);

                for (int i = 0; i < m * n; i++)
                {
                    Assert.Equal(1, recorder.Visits[i]);
                    // Applied to the complete sum: 2·(start + A·B) + 1.
                    AssertClose(2 * (start[i] + product[i]) + 1, 2 * (scale[i] + 1), c[i], $"{isa} {m}x{n}x{k} element {i}");
                }
            }
        });
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void BiasAndReluEpiloguesMatchReference(KernelIsa isa)
    {
        WithIsa(isa, () =>
        {
            foreach (var (m, n, k) in new[] { (1, 33, 20), (33, 1, 20), (45, 37, 19), (45, 10, 19), (19, 20, 300) })
            {
                float[] a = Random(m * k, 4), b = Random(k * n, 5);
                float[] rowBias = Random(m, 6), colBias = Random(n, 7);
                var (product, scale) = ReferenceKernels.Gemm(Transpose.None, Transpose.None, m, n, k, a, k, b, n);
                Check(new BiasColumnsEpilogue(colBias), (i, j, v) => v + colBias[j]);
                Check(new BiasRowsEpilogue(rowBias), (i, j, v) => v + rowBias[i]);
                Check(new BiasColumnsReluEpilogue(colBias), (i, j, v) => Math.Max(0, v + colBias[j]));
                Check(new BiasRowsReluEpilogue(rowBias), (i, j, v) => Math.Max(0, v + rowBias[i]));
                Check(new NoEpilogue(), (i, j, v) => v);

                void Check<TEpilogue>(TEpilogue epilogue, Func<int, int, double, double> expected) where TEpilogue : struct, IEpilogue
                {
                    var c = new float[m * n];
                    Gemm.Multiply(Transpose.None, Transpose.None, m, n, k, a, k, b, n, c, n, accumulate: false, epilogue);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++)
                            AssertClose(expected(i, j, product[i * n + j]), scale[i * n + j] + 1, c[i * n + j], $"{isa} {typeof(TEpilogue).Name} {m}x{n}x{k} ({i},{j})");
                }
            }
        });
    }

    /// <summary>
    /// An operand packed once by <see cref="Gemm.Prepack"/> gives bit-identical products to packing it per call, for
    /// every layout, multi-block shapes (k past KC, m past MC, partial tiles) and, in parallel, split products.
    /// </summary>
    [Theory]
    [MemberData(nameof(Isas))]
    public unsafe void PrepackedOperandsGiveTheSameProducts(KernelIsa isa)
    {
        int seed = 500;
        WithIsa(isa, () =>
        {
            foreach (var (m, n, k) in new[] { (17, 129, 3), (150, 300, 257), (196, 128, 576), (13, 47, 300), (6, 100, 300), (300, 5, 257) })
                foreach (var (transA, transB) in Layouts)
                    foreach (bool operandA in new[] { true, false })
                    {
                        int aRows = transA == Transpose.None ? m : k, aCols = transA == Transpose.None ? k : m;
                        int bRows = transB == Transpose.None ? k : n, bCols = transB == Transpose.None ? n : k;
                        float[] a = Random(aRows * aCols, seed++), b = Random(bRows * bCols, seed++);
                        float[] expected = Random(m * n, seed++), actual = (float[])expected.Clone();
                        float[] packed = new float[Gemm.PackedLength(m, n, k, operandA)];
                        fixed (float* ap = a, bp = b, ep = expected, cp = actual, pp = packed)
                        {
                            var problem = new GemmProblem(transA, transB, m, n, k, ap, aCols, bp, bCols, ep, n, accumulate: true);
                            Gemm.MultiplyUnchecked(problem, new NoEpilogue(), KernelIsaSelector.Current, allowParallel: true);
                            Gemm.Prepack(problem, KernelIsaSelector.Current, operandA, pp);
                            var prepacked = new GemmProblem(transA, transB, m, n, k, ap, aCols, bp, bCols, cp, n, accumulate: true)
                                { PackedA = operandA ? pp : null, PackedB = operandA ? null : pp };
                            Gemm.MultiplyUnchecked(prepacked, new NoEpilogue(), KernelIsaSelector.Current, allowParallel: true);
                        }
                        for (int i = 0; i < expected.Length; i++)
                            Assert.True(expected[i] == actual[i], $"{isa} {transA}/{transB} {m}x{n}x{k} packed {(operandA ? "A" : "B")} element {i}: {expected[i]} vs {actual[i]}");
                    }
        });
    }

    /// <summary>
    /// Reading B's panels in place (small batches) and packing them form every sum in the same order: the products are
    /// bit-identical, with row gaps in B (ldb > n), a partial last panel (packed even in place), k past one block,
    /// rows past one block, both layouts of A, accumulation and an epilogue (split across the pool where large enough).
    /// </summary>
    [Theory]
    [MemberData(nameof(Isas))]
    public void ReadingBInPlaceGivesTheSameProductsAsPackingIt(KernelIsa isa)
    {
        int seed = 900;
        WithIsa(isa, () =>
        {
            foreach (var (m, n, k) in new[] { (64, 128, 784), (17, 129, 300), (150, 300, 257), (6, 100, 300), (13, 47, 3), (96, 64, 1) })
                foreach (var transA in new[] { Transpose.None, Transpose.Transposed })
                    foreach (bool accumulate in new[] { false, true })
                    {
                        int ldb = n + 3;
                        float[] a = Random(m * k, seed++), b = Random(k * ldb, seed++), bias = Random(n, seed++);
                        float[] packed = Random(m * n, seed++), inPlace = (float[])packed.Clone();
                        int lda = transA == Transpose.None ? k : m;
                        try
                        {
                            GemmBInPlace.Forced = false;
                            Gemm.Multiply(transA, Transpose.None, m, n, k, a, lda, b, ldb, packed, n, accumulate, new BiasColumnsReluEpilogue(bias));
                            GemmBInPlace.Forced = true;
                            Gemm.Multiply(transA, Transpose.None, m, n, k, a, lda, b, ldb, inPlace, n, accumulate, new BiasColumnsReluEpilogue(bias));
                        }
                        finally { GemmBInPlace.Forced = null; }
                        for (int i = 0; i < packed.Length; i++)
                            Assert.True(packed[i] == inPlace[i], $"{isa} {transA} {m}x{n}x{k} accumulate={accumulate} element {i}: packed {packed[i]} vs in place {inPlace[i]}");
                    }
        });
    }

    [Fact]
    public void RejectsOperandsTooShortForTheirLeadingDimension()
    {
        var a = new float[3 * 4];
        var b = new float[4 * 5];
        var c = new float[3 * 5];
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(Transpose.None, Transpose.None, 3, 5, 4, a, 5, b, 5, c, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(Transpose.None, Transpose.None, 3, 5, 4, a, 3, b, 5, c, 5));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(Transpose.None, Transpose.None, 3, 5, 4, a, 4, b, 5, c.AsSpan(1), 5));
    }

    /// <summary>Counts how often each element is finished and maps v to 2v + 1, so early or repeated calls show.</summary>
    private readonly struct RecordingEpilogue(int[] visits, int columns) : IEpilogue
    {
        public int[] Visits { get; } = visits;

        public void Apply(Span<float> values, int row, int col)
        {
            for (int i = 0; i < values.Length; i++)
            {
                Visits[row * columns + col + i]++;
                values[i] = values[i] * 2 + 1;
            }
        }
    }
}
