using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Graph.Builder;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Ops;
using Graph.Passes;

namespace Graph.Lowering;

/// <summary>
/// From a model definition to its <see cref="CompiledModelPlan"/>: builds the train-step graph (loss,
/// parameter gradients, state updates), the eval prediction and loss graphs, optimizes each with the
/// core passes, then fuses and plans memory for each (<see cref="ProgramLowering"/>).
/// </summary>
public static class ModelLowering
{
    /// <summary>
    /// Lowers the model. Adds parameter gradients to <paramref name="builder"/> if it has a loss and none yet.
    /// Throws <see cref="NotSupportedException"/> naming an op no kernel lowers.
    /// </summary>
    public static CompiledModelPlan Lower(ModelBuilder builder)
    {
        var source = builder.Graph;
        var plan = new CompiledModelPlan(source.Name);
        foreach (var node in source.Nodes)
        {
            switch (node.Op)
            {
                case InputOp input:
                    var kind = input.Type.DType == DType.Int32 ? StorageKind.Label : StorageKind.Input;
                    int? classes = kind == StorageKind.Label ? builder.Wrap(node).Classes ?? FindClasses(source, node) : null;
                    plan.Inputs.Add(new PlanLeaf(input.LeafName, node.Shape, kind, null, classes) { IsFeature = input.Role == InputRole.Feature });
                    break;
                case ParameterOp p:
                    plan.Parameters.Add(new PlanLeaf(p.LeafName, node.Shape, StorageKind.Parameter, p.Init, null));
                    break;
                case StateOp s:
                    plan.States.Add(new PlanLeaf(s.LeafName, node.Shape, StorageKind.State, s.Init, null));
                    break;
            }
        }
        bool hasLoss = source.Outputs.Any(o => o.Role == OutputRole.Loss);
        bool hasPrediction = source.Outputs.Any(o => o.Role == OutputRole.Prediction);
        if (hasPrediction) plan.PredictionShape = source.Outputs.First(o => o.Role == OutputRole.Prediction).Node.Shape;
        if (hasLoss && plan.Parameters.Count > 0 && !source.Outputs.Any(o => o.Role == OutputRole.Gradient))
            builder.AddParameterGradients();
        source = builder.Graph;

        ComputeGraph Select(Func<GraphOutput, bool> keep, Mode mode) =>
            PassPipeline.Optimize(GraphRewriter.Rewrite(source, (_, _, _) => null, keepOutput: keep), mode);

        var graphs = new List<(ProgramKind, ComputeGraph)>();
        if (hasLoss)
            // The prediction stays an output of the training pass, so a trainer reads the batch's training accuracy
            // from it (TrainingOutput) instead of running a second forward pass.
            graphs.Add((ProgramKind.Train, Select(o => o.Role is OutputRole.Loss or OutputRole.Gradient or OutputRole.StateUpdate or OutputRole.Prediction, Mode.Train)));
        ComputeGraph? predictEval = null, lossEval = null, predictTrain = null, lossTrain = null;
        if (hasPrediction)
        {
            predictEval = Select(o => o.Role == OutputRole.Prediction, Mode.Eval);
            predictTrain = Select(o => o.Role == OutputRole.Prediction, Mode.Train);
            graphs.Add((ProgramKind.Predict, predictEval));
        }
        if (hasLoss)
        {
            lossEval = Select(o => o.Role == OutputRole.Loss, Mode.Eval);
            lossTrain = Select(o => o.Role == OutputRole.Loss, Mode.Train);
            graphs.Add((ProgramKind.Loss, lossEval));
        }
        bool same = (predictEval is null || GraphPrinter.Print(predictEval) == GraphPrinter.Print(predictTrain!))
            && (lossEval is null || GraphPrinter.Print(lossEval) == GraphPrinter.Print(lossTrain!));
        plan.TrainModeSameAsEval = same;
        if (!same)
        {
            if (predictTrain is not null) graphs.Add((ProgramKind.PredictTrainMode, predictTrain));
            if (lossTrain is not null) graphs.Add((ProgramKind.LossTrainMode, lossTrain));
        }
        foreach (var (kind, graph) in graphs)
            plan.Programs[kind] = ProgramLowering.Lower(kind, graph, plan);
        return plan;
    }

    private static int? FindClasses(ComputeGraph graph, Node labels)
    {
        foreach (var n in graph.Nodes)
            if (n.Op is OneHotOp oh && n.Inputs[0] == labels) return oh.Classes;
        return null;
    }
}

/// <summary>Fusion, scheduling and memory planning of one optimized graph.</summary>
public sealed class ProgramLowering
{
    private enum Cls { Leaf, Const, Inline, Alias, Point, Reduce, Heavy }

    private sealed class Group
    {
        public int Index;
        public Shape Domain = Shape.Scalar;
        public readonly List<Node> Members = new();
        public readonly List<Node> Reducers = new();
        public readonly HashSet<int> Ids = new();
        public Node? EpilogueOf;
    }

    private sealed class Unit
    {
        public int MinId = int.MaxValue;
        public Group? Group;
        public Node? Heavy;
        public GraphOutput? CopyFor; // output copy/fill unit
        public Node? CopySource;
        public readonly List<Node> Defines = new();
        public readonly HashSet<int> Reads = new();
        public int Position;
    }

    private sealed class Alloc
    {
        public long Offset, Size;
        public int LastUse;
        public PlanBuffer Buffer = null!;
    }

    private readonly ComputeGraph _g;
    private readonly ProgramPlan _program;
    private readonly CompiledModelPlan _model;
    private readonly Cls[] _cls;
    private readonly List<Node>[] _consumers;
    private readonly bool[] _isOutput;
    private readonly ulong[][] _anc;
    private readonly int[] _groupOf;
    private readonly List<Group> _groups = new();
    private readonly View?[] _view;
    private readonly Dictionary<string, PlanBuffer> _storage = new(StringComparer.Ordinal);

    private ProgramLowering(ProgramKind kind, ComputeGraph graph, CompiledModelPlan model)
    {
        _g = graph;
        _model = model;
        _program = new ProgramPlan(kind, graph);
        int n = graph.Nodes.Count;
        _cls = new Cls[n];
        _consumers = new List<Node>[n];
        _isOutput = new bool[n];
        _anc = new ulong[n][];
        _groupOf = Enumerable.Repeat(-1, n).ToArray();
        _view = new View?[n];
        for (int i = 0; i < n; i++) _consumers[i] = new List<Node>();
    }

    /// <summary>Lowers <paramref name="graph"/> (already optimized for its mode).</summary>
    public static ProgramPlan Lower(ProgramKind kind, ComputeGraph graph, CompiledModelPlan model)
    {
        var rewritten = LogSumExpOverTrailingAxes(ReuseActivationsForMasks(graph));
        var lowering = new ProgramLowering(kind, rewritten, model);
        lowering.Run();
        return lowering._program;
    }

    /// <summary>
    /// step(x) where relu/leaky-relu/elu(x) also exists becomes step(of that activation): the same mask,
    /// and the pre-activation no longer has to be stored for the backward pass, so bias + activation fuse in place.
    /// </summary>
    private static ComputeGraph ReuseActivationsForMasks(ComputeGraph graph)
    {
        var consumers = new List<Node>[graph.Nodes.Count];
        for (int i = 0; i < consumers.Length; i++) consumers[i] = new List<Node>();
        foreach (var n in graph.Nodes) foreach (var i in n.Inputs) consumers[i.Id].Add(n);
        var target = new ComputeGraph(graph.Name);
        var map = new Node[graph.Nodes.Count];
        bool changed = false;
        foreach (var node in graph.Nodes)
        {
            var inputs = node.Inputs.Select(i => map[i.Id]).ToArray();
            if (node.Op is StepOp)
            {
                var activation = consumers[node.Inputs[0].Id].FirstOrDefault(c => c.Id < node.Id && c.Op switch
                {
                    ReluOp => true,
                    LeakyReluOp l => l.Alpha >= 0,
                    EluOp e => e.Alpha >= 0,
                    _ => false,
                });
                if (activation is not null)
                {
                    inputs = new[] { map[activation.Id] };
                    changed = true;
                }
            }
            map[node.Id] = GraphRewriter.Copy(node, inputs, target);
        }
        if (!changed) return graph;
        foreach (var o in graph.Outputs) target.SetOutput(o.WithNode(map[o.Node.Id]));
        return DeadCodeElimination.Run(target);
    }

    /// <summary>
    /// The logsumexp kernel reduces contiguous trailing runs. A logsumexp over other axes becomes one over the trailing
    /// axes of a transposed copy (reduced axes of size 1 are dropped, as they change nothing), then a reshape to its shape.
    /// </summary>
    private static ComputeGraph LogSumExpOverTrailingAxes(ComputeGraph graph)
    {
        static bool Trailing(Node n, LogSumExpOp lse)
        {
            var shape = n.Inputs[0].Shape;
            for (int k = 0; k < lse.Axes.Length; k++)
                if (lse.Axes[k] != shape.Rank - lse.Axes.Length + k || shape[lse.Axes[k]] == 1) return false;
            return true;
        }
        if (!graph.Nodes.Any(n => n.Op is LogSumExpOp lse && !Trailing(n, lse))) return graph;
        var transposes = new Dictionary<(int, string), Node>();
        return GraphRewriter.Rewrite(graph, (old, inputs, target) =>
        {
            if (old.Op is not LogSumExpOp lse || Trailing(old, lse)) return null;
            var x = inputs[0];
            var shape = x.Shape;
            var reduced = lse.Axes.Where(a => shape[a] != 1).ToArray();
            var node = x;
            if (reduced.Length > 0)
            {
                var permutation = Enumerable.Range(0, shape.Rank).Where(a => Array.IndexOf(reduced, a) < 0).Concat(reduced).ToArray();
                var key = (x.Id, string.Join(",", permutation));
                if (transposes.TryGetValue(key, out var t)) node = t;
                else if (permutation.Where((p, i) => p != i).Any())
                    node = transposes[key] = target.Add(new TransposeOp(permutation), new[] { node }, old.Name, old.Location);
                var trailing = Enumerable.Range(shape.Rank - reduced.Length, reduced.Length).ToArray();
                node = target.Add(new LogSumExpOp(trailing, keepDims: false), new[] { node }, old.Name, old.Location);
            }
            if (!node.Shape.Equals(old.Shape))
                node = target.Add(new ReshapeOp(old.Shape), new[] { node }, old.Name, old.Location);
            return node;
        });
    }

    private void Run()
    {
        Classify();
        FormGroups();
        FuseEpilogues();
        var units = Schedule();
        Plan(units);
    }

    // ----- classification -------------------------------------------------------------------

    private static bool IsScalarShape(Shape s) => !s.HasBatch && s.ConstantSize == 1;

    private void Classify()
    {
        int words = (_g.Nodes.Count + 63) / 64;
        foreach (var node in _g.Nodes)
        {
            var anc = new ulong[words];
            foreach (var i in node.Inputs)
            {
                var a = _anc[i.Id];
                for (int w = 0; w < words; w++) anc[w] |= a[w];
                anc[i.Id >> 6] |= 1UL << (i.Id & 63);
                _consumers[i.Id].Add(node);
            }
            _anc[node.Id] = anc;
            _cls[node.Id] = node.Op switch
            {
                LeafOp => Cls.Leaf,
                ConstantOp c => c.Value.Length == 1 ? Cls.Inline : Cls.Const,
                CountOp => Cls.Inline,
                ReshapeOp => _cls[node.Inputs[0].Id] == Cls.Inline ? Cls.Inline : Cls.Alias,
                UnaryPointwiseOp or BinaryPointwiseOp or BroadcastToOp =>
                    IsScalarShape(node.Shape) && node.Inputs.All(i => _cls[i.Id] == Cls.Inline) ? Cls.Inline : Cls.Point,
                OneHotOp or DropoutMaskOp => Cls.Point,
                SumOp or MaxOp or LogSumExpOp => Cls.Reduce,
                MatMulOp or Conv2dOp or Conv2dInputGradOp or Conv2dFilterGradOp or MaxPool2dOp or MaxPool2dGradOp
                    or AvgPool2dOp or AvgPool2dGradOp or TransposeOp or ConcatOp or SliceOp => Cls.Heavy,
                _ => throw new NotSupportedException($"The op '{node.Op.Name}' ({node.Ref} in model '{_g.Name}') is not lowered to kernels yet."),
            };
            if (node.DType == DType.Int32 && node.Op is not InputOp)
                throw new NotSupportedException($"The op '{node.Op.Name}' produces integers ({node.Ref}); only label inputs may be integer.");
            if (_cls[node.Id] == Cls.Heavy)
                foreach (var i in node.Inputs) Materialize(i);
        }
        foreach (var o in _g.Outputs) _isOutput[Root(o.Node).Id] = true;
    }

    /// <summary>
    /// A single value folded into the loops that use it (Inline) has no buffer, but a heavy kernel reads its inputs
    /// from buffers: give it one (a constant buffer, a view of one, or a one-element loop).
    /// </summary>
    private void Materialize(Node n)
    {
        if (_cls[n.Id] != Cls.Inline) return;
        switch (n.Op)
        {
            case ConstantOp:
                _cls[n.Id] = Cls.Const;
                break;
            case ReshapeOp:
                Materialize(n.Inputs[0]);
                _cls[n.Id] = Cls.Alias;
                break;
            case UnaryPointwiseOp or BinaryPointwiseOp or BroadcastToOp:
                _cls[n.Id] = Cls.Point;
                break;
            default:
                throw new NotSupportedException($"{n.Ref} ('{n.Op.Name}') as an input of a matmul, convolution, pooling or data movement is not lowered yet.");
        }
    }

    private Node Root(Node n)
    {
        while (_cls[n.Id] == Cls.Alias) n = n.Inputs[0];
        return n;
    }

    private bool DependsOn(Node n, int id) => (_anc[n.Id][id >> 6] & (1UL << (id & 63))) != 0;

    private bool DependsOnGroup(Node n, Group g)
    {
        foreach (int id in g.Ids) if (DependsOn(n, id)) return true;
        return false;
    }

    // ----- fusion ---------------------------------------------------------------------------

    private void FormGroups()
    {
        foreach (var node in _g.Nodes)
        {
            var cls = _cls[node.Id];
            if (cls == Cls.Point)
            {
                Group? chosen = null;
                // A mask (step) starts its own loop so that it is recomputed where the backward pass uses it
                // rather than stored by the forward kernel (which would block the producer's epilogue).
                var candidates = node.Op is StepOp ? Enumerable.Empty<int>() : node.Inputs.Select(i => _groupOf[i.Id]).Where(gi => gi >= 0).Distinct().OrderByDescending(gi => gi);
                foreach (int gi in candidates)
                {
                    var g = _groups[gi];
                    if (g.Domain.Equals(node.Shape) && CanJoin(g, node, reducer: false)) { chosen = g; break; }
                }
                chosen ??= NewGroup(node.Shape);
                chosen.Members.Add(node);
                chosen.Ids.Add(node.Id);
                _groupOf[node.Id] = chosen.Index;
            }
            else if (cls == Cls.Reduce)
            {
                var input = node.Inputs[0];
                Group? chosen = null;
                if (node.Op is not LogSumExpOp && _cls[input.Id] == Cls.Point && _groupOf[input.Id] >= 0)
                {
                    var g = _groups[_groupOf[input.Id]];
                    if (g.Domain.Equals(input.Shape) && CanJoin(g, node, reducer: true)) chosen = g;
                }
                if (node.Op is LogSumExpOp lse)
                {
                    var axes = lse.Axes;
                    for (int k = 0; k < axes.Length; k++)
                        if (axes[k] != input.Shape.Rank - axes.Length + k)
                            throw new NotSupportedException($"logsumexp over axes [{string.Join(",", axes)}] of {input.Shape} ({node.Ref}) is not lowered yet: only trailing axes are.");
                }
                chosen ??= NewGroup(input.Shape);
                chosen.Reducers.Add(node);
                chosen.Ids.Add(node.Id);
                _groupOf[node.Id] = chosen.Index;
            }
        }
    }

    private Group NewGroup(Shape domain)
    {
        var g = new Group { Index = _groups.Count, Domain = domain };
        _groups.Add(g);
        return g;
    }

    private bool CanJoin(Group g, Node node, bool reducer)
    {
        if (g.EpilogueOf is not null) return false;
        foreach (var input in node.Inputs)
        {
            var cls = _cls[input.Id];
            if (cls is Cls.Leaf or Cls.Inline or Cls.Const) continue;
            var root = Root(input);
            if (_groupOf[root.Id] == g.Index)
            {
                // Only direct, elementwise reads of values computed earlier in the same iteration.
                if (root != input || !g.Members.Contains(root) || !input.Shape.Equals(g.Domain)) return false;
                if (node.Op is OneHotOp) return false;
            }
            else if (DependsOnGroup(root, g) || ReachesGroup(root, g)) return false;
        }
        return true;
    }

    /// <summary>
    /// True when <paramref name="start"/>'s kernel must wait for <paramref name="g"/>: a group runs as one kernel, so
    /// it waits for the inputs of all its members, and a path can pass through a fused group without any node of it
    /// depending on <paramref name="g"/> node by node.
    /// </summary>
    private bool ReachesGroup(Node start, Group g)
    {
        var seen = new HashSet<int>();
        var seenGroups = new HashSet<int>();
        var stack = new Stack<Node>();
        stack.Push(start);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!seen.Add(n.Id)) continue;
            int gi = _groupOf[n.Id];
            if (gi == g.Index) return true;
            if (gi >= 0 && seenGroups.Add(gi))
            {
                foreach (var m in _groups[gi].Members) stack.Push(m);
                foreach (var r in _groups[gi].Reducers) stack.Push(r);
            }
            foreach (var i in n.Inputs) stack.Push(i);
        }
        return false;
    }

    private void FuseEpilogues()
    {
        foreach (var h in _g.Nodes)
        {
            if (h.Op is not (MatMulOp or Conv2dOp) || _isOutput[h.Id]) continue;
            var consumers = _consumers[h.Id];
            if (consumers.Count == 0) continue;
            int gi = _groupOf[consumers[0].Id];
            if (gi < 0) continue;
            var g = _groups[gi];
            if (g.EpilogueOf is not null || g.Reducers.Count > 0 || !g.Domain.Equals(h.Shape)) continue;
            if (!consumers.All(c => _groupOf[c.Id] == gi && _cls[c.Id] == Cls.Point && c.Op is not OneHotOp)) continue;
            bool ok = true;
            foreach (var m in g.Members)
            {
                foreach (var input in m.Inputs)
                {
                    if (_cls[input.Id] is Cls.Leaf or Cls.Inline or Cls.Const)
                    {
                        if (h.Op is Conv2dOp && _cls[input.Id] is Cls.Leaf or Cls.Const && !ConvEpilogueOperand(input.Shape, g.Domain)) ok = false;
                        continue;
                    }
                    var root = Root(input);
                    if (root == h) { if (input != h) ok = false; continue; }
                    if (_groupOf[root.Id] == gi) continue;
                    if (DependsOn(root, h.Id)) ok = false;
                    if (h.Op is Conv2dOp && !ConvEpilogueOperand(input.Shape, g.Domain)) ok = false;
                }
                if (h.Op is Conv2dOp && m.Op is DropoutMaskOp) ok = false;
            }
            if (!ok) continue;
            int stores = g.Members.Count(NeedsStore);
            if (stores == 0 || (h.Op is Conv2dOp && stores != 1)) continue;
            g.EpilogueOf = h;
        }
    }

    /// <summary>True when an operand broadcast to a conv output [N,O,H,W] does not vary with the image.</summary>
    private static bool NoBatchAxisAligned(Shape operand, Shape domain) =>
        operand.Rank < domain.Rank || operand[0] == 1;

    /// <summary>
    /// True when a conv epilogue can read an operand broadcast to the conv output [N,O,H,W]: the kernel hands the
    /// epilogue runs of one image and channel that span any part of the H×W plane, so the operand must not vary with
    /// the image and, over the plane, must be either constant or laid out like it (contiguous); an operand that varies
    /// along only one of H and W ([W], [1,W], [H,1]) is neither.
    /// </summary>
    private static bool ConvEpilogueOperand(Shape operand, Shape domain)
    {
        if (!NoBatchAxisAligned(operand, domain)) return false;
        var strides = BroadcastStrides(operand, domain);
        bool constant = true, contiguous = true;
        var expected = SymSize.Const(1);
        for (int a = domain.Rank - 1; a >= 2; a--)
        {
            if (domain[a] == 1) continue;
            if (strides[a].Coef != 0) constant = false;
            if (!strides[a].Equals(expected)) contiguous = false;
            expected = Mul(expected, SymSize.Dim(domain[a]));
        }
        return constant || contiguous;
    }

    private bool NeedsStore(Node member)
    {
        if (_isOutput[member.Id]) return true;
        int g = _groupOf[member.Id];
        return _consumers[member.Id].Any(c => _groupOf[c.Id] != g || _cls[c.Id] == Cls.Alias);
    }

    // ----- scheduling -----------------------------------------------------------------------

    private List<Unit> Schedule()
    {
        var units = new List<Unit>();
        var unitOfNode = new Dictionary<int, Unit>();
        var heavyUnit = new Dictionary<int, Unit>();
        foreach (var node in _g.Nodes)
        {
            if (_cls[node.Id] != Cls.Heavy) continue;
            var u = new Unit { Heavy = node };
            units.Add(u);
            heavyUnit[node.Id] = u;
        }
        foreach (var g in _groups)
        {
            Unit u;
            if (g.EpilogueOf is not null) u = heavyUnit[g.EpilogueOf.Id];
            else
            {
                u = new Unit();
                units.Add(u);
            }
            u.Group = g;
        }
        foreach (var u in units)
        {
            var nodes = new List<Node>();
            if (u.Heavy is not null) nodes.Add(u.Heavy);
            if (u.Group is not null) { nodes.AddRange(u.Group.Members); nodes.AddRange(u.Group.Reducers); }
            foreach (var n in nodes)
            {
                u.Defines.Add(n);
                unitOfNode[n.Id] = u;
                u.MinId = Math.Min(u.MinId, n.Id);
            }
        }
        foreach (var u in units)
            foreach (var n in u.Defines)
                foreach (var input in n.Inputs)
                {
                    if (n.Op is DropoutMaskOp) continue; // only its shape matters
                    var root = Root(input);
                    if (_cls[root.Id] is Cls.Point or Cls.Reduce or Cls.Heavy) u.Reads.Add(root.Id);
                }
        // Kahn's algorithm, smallest first node first: deterministic and close to source order.
        var deps = units.ToDictionary(u => u, u => new HashSet<Unit>(u.Reads.Select(id => unitOfNode[id]).Where(v => v != u)));
        var users = units.ToDictionary(u => u, _ => new List<Unit>());
        foreach (var u in units) foreach (var d in deps[u]) users[d].Add(u);
        // The ready set is a plain list scanned for the smallest MinId (unique per unit): a SortedDictionary<int, Unit>
        // here JIT-compiled about 15 framework methods at every process's first model compile.
        var ready = new List<Unit>();
        foreach (var u in units) if (deps[u].Count == 0) ready.Add(u);
        var order = new List<Unit>();
        while (ready.Count > 0)
        {
            int first = 0;
            for (int i = 1; i < ready.Count; i++) if (ready[i].MinId < ready[first].MinId) first = i;
            var u = ready[first];
            ready[first] = ready[^1];
            ready.RemoveAt(ready.Count - 1);
            u.Position = order.Count;
            order.Add(u);
            foreach (var v in users[u])
            {
                deps[v].Remove(u);
                if (deps[v].Count == 0) ready.Add(v);
            }
        }
        if (order.Count != units.Count) throw new InvalidOperationException($"Fusion of '{_g.Name}' produced a cycle (a bug in lowering).");
        return order;
    }

    // ----- memory planning and kernel construction ------------------------------------------

    private PlanBuffer NewBuffer(StorageKind kind, string name, SymSize size)
    {
        var b = new PlanBuffer(_program.Buffers.Count, kind, name, size);
        _program.Buffers.Add(b);
        return b;
    }

    private PlanBuffer Storage(StorageKind kind, string name, SymSize size)
    {
        string key = kind + ":" + name;
        if (!_storage.TryGetValue(key, out var b)) _storage[key] = b = NewBuffer(kind, name, size);
        return b;
    }

    private View ViewOf(Node n)
    {
        var root = Root(n);
        var v = _view[root.Id] ?? throw new InvalidOperationException($"{root.Ref} has no buffer (a bug in lowering).");
        return ReferenceEquals(root, n) ? v : new View(v.Buffer, n.Shape);
    }

    private void Plan(List<Unit> units)
    {
        // Leaves and constants.
        foreach (var n in _g.Nodes)
        {
            switch (n.Op)
            {
                case InputOp input:
                    _view[n.Id] = new View(Storage(input.Type.DType == DType.Int32 ? StorageKind.Label : StorageKind.Input, input.LeafName, SymSize.Of(n.Shape)), n.Shape);
                    break;
                case ParameterOp p:
                    _view[n.Id] = new View(Storage(StorageKind.Parameter, p.LeafName, SymSize.Of(n.Shape)), n.Shape);
                    break;
                case StateOp s:
                    _view[n.Id] = new View(Storage(StorageKind.State, s.LeafName, SymSize.Of(n.Shape)), n.Shape);
                    break;
                case ConstantOp c when _cls[n.Id] == Cls.Const:
                    int index = _model.Constants.FindIndex(d => d.SequenceEqual(c.Value.Data));
                    if (index < 0) { index = _model.Constants.Count; _model.Constants.Add(c.Value.Data); }
                    var cb = NewBuffer(StorageKind.Constant, "c" + index.ToString(CultureInfo.InvariantCulture), SymSize.Of(n.Shape));
                    cb.ConstantData = c.Value.Data;
                    cb.ConstantIndex = index;
                    _view[n.Id] = new View(cb, n.Shape);
                    break;
            }
        }

        // Outputs: gradients go straight to gradient storage when the node is ours alone; the rest get copy units.
        var copies = new List<Unit>();
        var boundToStorage = new HashSet<int>();
        foreach (var o in _g.Outputs)
        {
            var root = Root(o.Node);
            bool computed = _cls[root.Id] is Cls.Point or Cls.Reduce or Cls.Heavy;
            if (o.Role == OutputRole.Gradient)
            {
                var grad = Storage(StorageKind.Gradient, o.Target!, SymSize.Of(o.Node.Shape));
                if (computed && boundToStorage.Add(root.Id))
                    _view[root.Id] = new View(grad, root.Shape);
                else
                    copies.Add(new Unit { CopyFor = o, CopySource = o.Node, Position = units.Count + copies.Count });
            }
            else if (_cls[root.Id] == Cls.Inline)
            {
                copies.Add(new Unit { CopyFor = o, CopySource = o.Node, Position = units.Count + copies.Count });
            }
        }
        var all = units.Concat(copies).ToList();

        // Liveness: last position reading each computed node's buffer.
        var lastUse = new Dictionary<int, int>();
        foreach (var u in all)
        {
            IEnumerable<int> reads = u.CopySource is not null ? new[] { Root(u.CopySource).Id } : u.Reads;
            foreach (int id in reads) lastUse[id] = Math.Max(lastUse.TryGetValue(id, out int x) ? x : -1, u.Position);
        }
        foreach (var o in _g.Outputs) lastUse[Root(o.Node).Id] = int.MaxValue;

        var livePerBatch = new List<Alloc>();
        var liveConst = new List<Alloc>();
        long maxPerBatch = 0, maxConst = 0;
        var allocOf = new Dictionary<PlanBuffer, Alloc>();

        foreach (var u in all)
        {
            livePerBatch.RemoveAll(a => a.LastUse < u.Position);
            liveConst.RemoveAll(a => a.LastUse < u.Position);
            var stored = new List<Node>();
            if (u.CopyFor is not null)
            {
                if (u.CopyFor.Role == OutputRole.Gradient) continue;
                stored.Add(u.CopySource!);
            }
            else
            {
                if (u.Heavy is not null && u.Group?.EpilogueOf is null) stored.Add(u.Heavy);
                if (u.Group is not null)
                {
                    stored.AddRange(u.Group.Members.Where(NeedsStore));
                    stored.AddRange(u.Group.Reducers);
                }
            }
            var taken = new HashSet<PlanBuffer>();
            foreach (var n in stored)
            {
                if (_view[n.Id] is not null && u.CopyFor is null) continue; // bound to storage
                var size = SymSize.Of(n.Shape);
                int last = lastUse.TryGetValue(n.Id, out int l) ? l : u.Position;
                // In place: a dying arena buffer this loop reads only elementwise.
                if (u.Group is not null && u.Group.EpilogueOf is null && u.CopyFor is null && u.Group.Members.Contains(n))
                {
                    PlanBuffer? reuse = null;
                    foreach (var candidate in InPlaceCandidates(u.Group))
                    {
                        if (candidate.Kind != StorageKind.Arena || !candidate.Size.Equals(size) || taken.Contains(candidate)) continue;
                        if (!allocOf.TryGetValue(candidate, out var alloc) || alloc.LastUse != u.Position) continue;
                        reuse = candidate;
                        alloc.LastUse = last;
                        break;
                    }
                    if (reuse is not null)
                    {
                        taken.Add(reuse);
                        _view[n.Id] = new View(reuse, n.Shape);
                        continue;
                    }
                }
                var pool = size.PerBatch ? livePerBatch : liveConst;
                long need = RoundUp(size.Coef);
                long offset = 0;
                foreach (var a in pool.OrderBy(a => a.Offset))
                {
                    if (a.Offset - offset >= need) break;
                    offset = Math.Max(offset, a.Offset + RoundUp(a.Size));
                }
                var buffer = NewBuffer(StorageKind.Arena, "t" + n.Id.ToString(CultureInfo.InvariantCulture), size);
                var newAlloc = new Alloc { Offset = offset, Size = size.Coef, LastUse = last, Buffer = buffer };
                pool.Add(newAlloc);
                allocOf[buffer] = newAlloc;
                taken.Add(buffer);
                if (size.PerBatch) { buffer.OffsetPerBatch = offset; maxPerBatch = Math.Max(maxPerBatch, offset + need); }
                else { buffer.OffsetConstant = offset; maxConst = Math.Max(maxConst, offset + need); }
                _view[n.Id] = new View(buffer, n.Shape);
            }
            if (u.Heavy is not null && u.Group?.EpilogueOf is not null)
            {
                // The producer writes straight into the buffer of the epilogue's first stored value.
                var first = u.Group.Members.First(NeedsStore);
                _view[u.Heavy.Id] = new View(_view[first.Id]!.Buffer, u.Heavy.Shape);
            }
        }
        // The constant region comes first: per-batch offsets are shifted past it.
        foreach (var b in _program.Buffers)
            if (b.Kind == StorageKind.Arena && b.Size.PerBatch) b.OffsetConstant = maxConst;
        _program.ArenaConstant = maxConst;
        _program.ArenaPerBatch = maxPerBatch;

        foreach (var u in all) _program.Kernels.Add(BuildKernel(u));

        foreach (var o in _g.Outputs)
        {
            var copy = copies.FirstOrDefault(c => c.CopyFor == o);
            View v = copy is not null ? ((MoveKernel)_program.Kernels[copy.Position]).Output : ViewOf(o.Node);
            _program.Outputs.Add(new KeyValuePair<string, View>(o.Name, v));
        }
    }

    private static long RoundUp(long size) => (size + 15) / 16 * 16;

    private IEnumerable<PlanBuffer> InPlaceCandidates(Group g)
    {
        // Buffers read by the group, all of whose reads are elementwise (index = flat position).
        var reads = new Dictionary<PlanBuffer, bool>();
        foreach (var m in g.Members)
        {
            if (m.Op is DropoutMaskOp) continue;
            foreach (var input in m.Inputs)
            {
                if (_cls[input.Id] is Cls.Inline) continue;
                var root = Root(input);
                if (_groupOf[root.Id] == g.Index) continue;
                var v = _view[root.Id];
                if (v is null) continue;
                bool elementwise = input.Shape.Equals(g.Domain) && m.Op is not OneHotOp;
                reads[v.Buffer] = (reads.TryGetValue(v.Buffer, out bool e) ? e : true) && elementwise;
            }
        }
        return reads.Where(kv => kv.Value).Select(kv => kv.Key).OrderBy(b => b.Id);
    }

    private PlanKernel BuildKernel(Unit u)
    {
        if (u.CopyFor is not null) return BuildCopy(u);
        PlanKernel kernel;
        if (u.Heavy is null)
        {
            kernel = BuildLoop(u.Group!, epilogueOf: null);
        }
        else
        {
            var h = u.Heavy;
            LoopKernel? epilogue = u.Group is not null ? BuildLoop(u.Group, h) : null;
            var outView = epilogue is not null ? epilogue.Instructions[epilogue.InPlaceInstr].Store! : ViewOf(h);
            outView = new View(outView.Buffer, h.Shape);
            kernel = h.Op switch
            {
                MatMulOp mm => BuildGemm(h, mm, outView, epilogue),
                Conv2dOp or Conv2dInputGradOp or Conv2dFilterGradOp => BuildConv(h, outView, epilogue),
                MaxPool2dOp or AvgPool2dOp or MaxPool2dGradOp or AvgPool2dGradOp => BuildPool(h, outView),
                _ => BuildMove(h, outView),
            };
            kernel.Nodes.Add(h);
            if (epilogue is not null) kernel.Nodes.AddRange(epilogue.Nodes);
        }
        kernel.Comment = Describe(kernel.Nodes);
        return kernel;
    }

    private PlanKernel BuildCopy(Unit u)
    {
        var o = u.CopyFor!;
        var source = u.CopySource!;
        var root = Root(source);
        View target = o.Role == OutputRole.Gradient
            ? new View(Storage(StorageKind.Gradient, o.Target!, SymSize.Of(source.Shape)), source.Shape)
            : _view[root.Id]!;
        var k = new MoveKernel { Output = target };
        if (_cls[root.Id] == Cls.Inline)
        {
            k.Kind = "fill";
            k.Value = Scalar(root);
        }
        else
        {
            k.Kind = "copy";
            k.Inputs.Add(ViewOf(source));
        }
        k.Nodes.Add(source);
        k.Comment = $"out {o.Name} = {source.Ref}";
        return k;
    }

    private GemmKernel BuildGemm(Node h, MatMulOp mm, View output, LoopKernel? epilogue)
    {
        var a = h.Inputs[0].Shape;
        var b = h.Inputs[1].Shape;
        return new GemmKernel
        {
            TransA = mm.TransposeA,
            TransB = mm.TransposeB,
            M = SymSize.Dim(h.Shape[0]),
            N = SymSize.Dim(h.Shape[1]),
            K = SymSize.Dim(mm.TransposeA ? a[0] : a[1]),
            A = ViewOf(h.Inputs[0]),
            B = ViewOf(h.Inputs[1]),
            Lda = SymSize.Dim(a[1]),
            Ldb = SymSize.Dim(b[1]),
            C = output,
            Epilogue = epilogue,
        };
    }

    private ConvKernel BuildConv(Node h, View output, LoopKernel? epilogue)
    {
        var k = new ConvKernel { Output = output, Epilogue = epilogue };
        switch (h.Op)
        {
            case Conv2dOp conv:
            {
                var x = h.Inputs[0].Shape;
                var w = h.Inputs[1].Shape;
                k.Pass = ConvPass.Forward;
                k.Channels = x[1]; k.Height = x[2]; k.Width = x[3]; k.OutChannels = w[0];
                k.Window = conv.Window(w[2], w[3]);
                k.Batch = SymSize.Dim(x[0]);
                k.First = ViewOf(h.Inputs[0]);
                k.Second = ViewOf(h.Inputs[1]);
                break;
            }
            case Conv2dInputGradOp ig:
            {
                var dy = h.Inputs[0].Shape;
                var w = h.Inputs[1].Shape;
                k.Pass = ConvPass.BackwardInput;
                k.Channels = w[1]; k.Height = ig.Height; k.Width = ig.Width; k.OutChannels = w[0];
                k.Window = ig.Window;
                k.Batch = SymSize.Dim(dy[0]);
                k.First = ViewOf(h.Inputs[0]);
                k.Second = ViewOf(h.Inputs[1]);
                break;
            }
            case Conv2dFilterGradOp fg:
            {
                var x = h.Inputs[0].Shape;
                var dy = h.Inputs[1].Shape;
                k.Pass = ConvPass.BackwardFilter;
                k.Channels = x[1]; k.Height = x[2]; k.Width = x[3]; k.OutChannels = dy[1];
                k.Window = fg.Window;
                k.Batch = SymSize.Dim(x[0]);
                k.First = ViewOf(h.Inputs[0]);
                k.Second = ViewOf(h.Inputs[1]);
                break;
            }
        }
        int existing = _program.ConvShapes.FindIndex(c => c.Channels == k.Channels && c.Height == k.Height && c.Width == k.Width
            && c.OutChannels == k.OutChannels && c.Window.ToString() == k.Window.ToString());
        if (existing < 0) { existing = _program.ConvShapes.Count; _program.ConvShapes.Add(k); }
        k.ShapeIndex = existing;
        return k;
    }

    private PoolKernel BuildPool(Node h, View output)
    {
        var k = new PoolKernel { Output = output };
        switch (h.Op)
        {
            case MaxPool2dOp mp:
                k.IsMax = true; k.Window = mp.Window; k.X = ViewOf(h.Inputs[0]);
                break;
            case AvgPool2dOp ap:
                k.Window = ap.Window; k.X = ViewOf(h.Inputs[0]);
                break;
            case MaxPool2dGradOp mg:
                k.IsMax = true; k.IsBackward = true; k.Window = mg.Window; k.X = ViewOf(h.Inputs[0]); k.Dy = ViewOf(h.Inputs[1]);
                break;
            case AvgPool2dGradOp ag:
                k.IsBackward = true; k.Window = ag.Window; k.Dy = ViewOf(h.Inputs[0]);
                break;
        }
        var inShape = h.Op is AvgPool2dGradOp ? h.Shape : h.Inputs[0].Shape;
        k.Planes = SymSize.Product(inShape, 0, 2);
        k.Batch = SymSize.Dim(inShape[0]);
        k.Channels = inShape[1];
        k.Height = inShape[2];
        k.Width = inShape[3];
        return k;
    }

    private MoveKernel BuildMove(Node h, View output)
    {
        var k = new MoveKernel { Output = output };
        foreach (var i in h.Inputs) k.Inputs.Add(ViewOf(i));
        switch (h.Op)
        {
            case TransposeOp t: k.Kind = "transpose"; k.Permutation = t.Permutation; break;
            case ConcatOp c: k.Kind = "concat"; k.Axis = c.Axis; break;
            case SliceOp s: k.Kind = "slice"; k.Axis = s.Axis; k.Start = s.Start; break;
            default: throw new NotSupportedException($"The op '{h.Op.Name}' is not lowered yet.");
        }
        return k;
    }

    // ----- loops ----------------------------------------------------------------------------

    private ScalarExpr Scalar(Node n)
    {
        switch (n.Op)
        {
            case ConstantOp c: return new LiteralExpr(c.Value.Data[0]);
            case CountOp count:
            {
                var s = n.Inputs[0].Shape;
                long coef = 1;
                bool batch = false;
                foreach (int a in count.Axes)
                {
                    if (s[a] == Shape.Batch) batch = true;
                    else coef *= s[a];
                }
                return new CountExpr(new SymSize(coef, batch));
            }
            case ReshapeOp:
            case BroadcastToOp:
                return Scalar(n.Inputs[0]);
            default:
                return new OpExpr(n.Op, n.Inputs.Select(Scalar).ToArray());
        }
    }

    /// <summary>Per domain axis, the element stride of an operand of <paramref name="shape"/> broadcast to it (NumPy alignment).</summary>
    private static SymSize[] BroadcastStrides(Shape shape, Shape domain)
    {
        var strides = new SymSize[domain.Rank];
        int offset = domain.Rank - shape.Rank;
        for (int a = 0; a < domain.Rank; a++)
        {
            int sa = a - offset;
            if (sa < 0 || (shape[sa] == 1 && domain[a] != 1)) { strides[a] = SymSize.Const(0); continue; }
            strides[a] = SymSize.Product(shape, sa + 1, shape.Rank);
        }
        return strides;
    }

    private LoopKernel BuildLoop(Group g, Node? epilogueOf)
    {
        var k = new LoopKernel { Domain = g.Domain };
        var temps = new Dictionary<int, int>();
        var operandIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var scalarIndex = new Dictionary<int, int>();

        int Operand(Node input, SymSize[] strides, bool label)
        {
            var v = ViewOf(input);
            string key = v.Buffer.Id.ToString(CultureInfo.InvariantCulture) + "|" + string.Join(",", strides.Select(s => s.ToString()));
            if (!operandIndex.TryGetValue(key, out int index))
            {
                index = k.Operands.Count;
                operandIndex[key] = index;
                k.Operands.Add(new LoopOperand(v, strides, label));
            }
            return index;
        }

        Arg ArgFor(Node input, Node user)
        {
            if (_cls[input.Id] == Cls.Inline)
            {
                if (!scalarIndex.TryGetValue(input.Id, out int s))
                {
                    s = k.Scalars.Count;
                    scalarIndex[input.Id] = s;
                    k.Scalars.Add(Scalar(input));
                }
                return new Arg(ArgKind.Scalar, s);
            }
            if (temps.TryGetValue(input.Id, out int t)) return new Arg(ArgKind.Temp, t);
            if (user.Op is OneHotOp)
            {
                var st = new SymSize[g.Domain.Rank];
                st[0] = SymSize.Const(1);
                st[1] = SymSize.Const(0);
                return new Arg(ArgKind.Operand, Operand(input, st, label: true));
            }
            int index = Operand(input, BroadcastStrides(input.Shape, g.Domain), label: false);
            if (epilogueOf is not null && Root(input) == epilogueOf) k.EpilogueOperand = index;
            return new Arg(ArgKind.Operand, index);
        }

        foreach (var m in g.Members)
        {
            var args = m.Op is DropoutMaskOp ? Array.Empty<Arg>() : m.Inputs.Select(i => ArgFor(i, m)).ToArray();
            var instr = new LoopInstr(m, args);
            if (NeedsStore(m)) instr.Store = ViewOf(m);
            temps[m.Id] = k.Instructions.Count;
            k.Instructions.Add(instr);
            k.Nodes.Add(m);
            if (m.Op is DropoutMaskOp dm)
            {
                _program.UsesDropout = true;
                _model.DropoutStreams.Add(dm.Stream);
            }
        }
        foreach (var r in g.Reducers)
        {
            var op = (ReductionOp)r.Op;
            var keep = ReductionOp.ReducedShape(g.Domain, op.Axes, keepDims: true);
            var outStrides = BroadcastStrides(keep, g.Domain);
            var kind = r.Op switch { SumOp => ReduceKind.Sum, MaxOp => ReduceKind.Max, _ => ReduceKind.LogSumExp };
            var reducer = new LoopReducer(r, kind, ArgFor(r.Inputs[0], r), outStrides) { Output = ViewOf(r) };
            k.Reducers.Add(reducer);
            k.Nodes.Add(r);
        }
        if (epilogueOf is not null)
        {
            k.InPlaceInstr = k.Instructions.FindIndex(i => i.Store is not null);
            if (k.EpilogueOperand < 0) throw new InvalidOperationException("Epilogue without its producer operand (a bug in lowering).");
        }
        // Inner runs: the longest suffix of axes over which every operand and reducer output is either
        // contiguous or constant.
        var indexers = k.Operands.Select(o => o.Strides).Concat(k.Reducers.Select(r => r.OutStrides)).ToList();
        int inner = g.Domain.Rank;
        var status = new int[indexers.Count]; // 0 unknown, 1 present, 2 broadcast
        var nextStride = new SymSize[indexers.Count];
        var nextDim = new SymSize[indexers.Count];
        while (inner > 0)
        {
            int a = inner - 1;
            if (g.Domain[a] == 1) { inner--; continue; }
            bool ok = true;
            var newStatus = (int[])status.Clone();
            for (int i = 0; i < indexers.Count && ok; i++)
            {
                var s = indexers[i][a];
                int st = s.Coef == 0 ? 2 : 1;
                if (status[i] != 0 && status[i] != st) ok = false;
                if (st == 1)
                {
                    var expected = status[i] == 0 ? SymSize.Const(1) : Mul(nextStride[i], nextDim[i]);
                    if (!s.Equals(expected)) ok = false;
                }
                newStatus[i] = st;
            }
            if (!ok) break;
            for (int i = 0; i < indexers.Count; i++)
            {
                status[i] = newStatus[i];
                if (status[i] == 1) { nextStride[i] = indexers[i][a]; nextDim[i] = SymSize.Dim(g.Domain[a]); }
            }
            inner--;
        }
        k.InnerAxis = inner;
        k.Inner = SymSize.Product(g.Domain, inner, g.Domain.Rank);
        k.Vectorizable = !g.Members.Any(m => m.Op is OneHotOp or DropoutMaskOp);
        foreach (var r in k.Reducers)
        {
            if (r.Kind != ReduceKind.LogSumExp) continue;
            for (int a = 0; a < g.Domain.Rank; a++)
            {
                bool reduced = r.OutStrides[a].Coef == 0 && g.Domain[a] != 1;
                if (g.Domain[a] != 1 && reduced != (a >= inner))
                    throw new NotSupportedException($"logsumexp {r.Node.Ref} over {g.Domain} is not lowered yet.");
            }
        }
        return k;
    }

    private static SymSize Mul(SymSize a, SymSize b)
    {
        if (a.PerBatch && b.PerBatch) throw new NotSupportedException("A stride would need the square of the batch size.");
        return new SymSize(a.Coef * b.Coef, a.PerBatch || b.PerBatch);
    }

    // ----- comments -------------------------------------------------------------------------

    private string Describe(IEnumerable<Node> nodes)
    {
        var parts = new List<string>();
        var names = new List<string>();
        foreach (var n in nodes)
        {
            string args = string.Join(", ", n.Inputs.Select(i => i.Ref));
            parts.Add($"{n.Ref} = {n.Op.Key}({args})");
            if (n.Name is { Length: > 0 } name && n.Op is not LeafOp && !names.Contains(name)) names.Add(name);
        }
        return string.Join("; ", parts) + (names.Count > 0 ? "  [" + string.Join(", ", names) + "]" : "");
    }
}
