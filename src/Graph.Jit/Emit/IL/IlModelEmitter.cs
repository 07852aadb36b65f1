using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.Intrinsics;
using Graph.Ir;
using Graph.Lowering;
using Graph.Ops;
using Graph.Runtime.Kernels;

namespace Graph.Jit.Emit.IL;

/// <summary>A compiled program: runs every kernel of one <see cref="ProgramPlan"/> on the storage it is bound to.</summary>
internal delegate void ProgramBody(int batch, long step);

/// <summary>
/// The IL emitter: the counterpart of the C# text emitter (<c>Graph.Emit.ModelEmitter</c>) over the same
/// <see cref="CompiledModelPlan"/>. One <see cref="DynamicMethod"/> per program (the generated class's
/// <c>RunTrain</c>, <c>RunPredict</c>, ...) and one per fused GEMM/convolution epilogue (the generated class's
/// epilogue structs' <c>Apply</c>). Every construct mirrors the C# emitter's text: the same loops, the same
/// vector width choice, the same operations in the same order, the same runtime kernels. Keep the two in step:
/// a change to <c>ModelWriter</c> needs the same change here (the JIT tests compare both bit for bit).
/// </summary>
[RequiresDynamicCode("Emits DynamicMethods.")]
internal sealed class IlModelEmitter
{
    private readonly StorageLayout _layout;

    public IlModelEmitter(StorageLayout layout) => _layout = layout;

    /// <summary>Program methods by kind: one method, or one per kernel (run in order) with <see cref="JitOptions.MethodPerKernel"/>.</summary>
    public Dictionary<ProgramKind, List<DynamicMethod>> Programs { get; } = new();

    /// <summary>Epilogue methods by index (the index the programs load from <see cref="ModelStorage.Epilogues"/>).</summary>
    public List<DynamicMethod> Epilogues { get; } = new();

    /// <summary>Checked mode's checks by kernel (the index programs pass to <see cref="ModelStorage.RunFiniteChecks"/>).</summary>
    public List<FiniteCheckCall[]> FiniteChecks { get; } = new();

    internal static readonly FieldInfo ArenaField = typeof(ModelStorage).GetField(nameof(ModelStorage.Arena))!;
    internal static readonly FieldInfo WorkspaceField = typeof(ModelStorage).GetField(nameof(ModelStorage.Workspace))!;
    internal static readonly FieldInfo FloatsField = typeof(ModelStorage).GetField(nameof(ModelStorage.Floats))!;
    internal static readonly FieldInfo IntsField = typeof(ModelStorage).GetField(nameof(ModelStorage.Ints))!;
    internal static readonly FieldInfo ConvField = typeof(ModelStorage).GetField(nameof(ModelStorage.ConvShapes))!;
    internal static readonly FieldInfo PoolField = typeof(ModelStorage).GetField(nameof(ModelStorage.PoolShapes))!;
    internal static readonly FieldInfo EpiloguesField = typeof(ModelStorage).GetField(nameof(ModelStorage.Epilogues))!;
    internal static readonly FieldInfo SeedField = typeof(ModelStorage).GetField(nameof(ModelStorage.Seed))!;
    internal static readonly FieldInfo CheckFiniteField = typeof(ModelStorage).GetField(nameof(ModelStorage.CheckFinite))!;
    internal static readonly MethodInfo RunFiniteChecksMethod = typeof(ModelStorage).GetMethod(nameof(ModelStorage.RunFiniteChecks))!;

    /// <summary>Emits every program of the plan.</summary>
    public void EmitAll(bool methodPerKernel = false)
    {
        foreach (var p in StorageLayout.Programs(_layout.Plan))
        {
            var methods = new List<DynamicMethod>();
            if (!methodPerKernel) methods.Add(EmitProgram(p.Kind.ToString(), p, p.Kernels));
            else for (int i = 0; i < p.Kernels.Count; i++) methods.Add(EmitProgram(p.Kind + "K" + i, p, new[] { p.Kernels[i] }));
            Programs[p.Kind] = methods;
        }
    }

    /// <summary>Emits a program method (or a kernel's): <c>void Run(ModelStorage s, int batch, long step)</c>.</summary>
    public DynamicMethod EmitProgram(string name, ProgramPlan p, IReadOnlyList<PlanKernel> kernels)
    {
        var dm = new DynamicMethod("Run" + name, typeof(void), new[] { typeof(ModelStorage), typeof(int), typeof(long) },
            typeof(ModelStorage).Module, skipVisibility: true);
        var m = new MethodEmitter(this, _layout, dm.GetILGenerator(), batchArg: 1, stepArg: 2);
        m.LoadArrays(kernels.SelectMany(KernelBuffers));
        foreach (var k in kernels)
        {
            m.Pool.Reset();
            switch (k)
            {
                case LoopKernel loop: m.EmitLoop(loop); break;
                case GemmKernel gemm: m.EmitGemm(gemm); break;
                case ConvKernel conv: m.EmitConv(conv); break;
                case PoolKernel pool: m.EmitPool(pool); break;
                case MoveKernel move: m.EmitMove(move); break;
                default: throw new NotSupportedException($"The IL emitter has no form for the kernel kind '{k.GetType().Name}'.");
            }
            m.EmitFiniteChecks(k);
        }
        m.IL.Emit(OpCodes.Ret);
        return dm;
    }

    /// <summary>Every buffer a kernel (outside its epilogue) reads or writes.</summary>
    internal static IEnumerable<PlanBuffer> KernelBuffers(PlanKernel k)
    {
        switch (k)
        {
            case LoopKernel l:
                foreach (var o in l.Operands) yield return o.Source.Buffer;
                foreach (var i in l.Instructions) if (i.Store is not null) yield return i.Store.Buffer;
                foreach (var r in l.Reducers) yield return r.Output.Buffer;
                break;
            case GemmKernel g: yield return g.A.Buffer; yield return g.B.Buffer; yield return g.C.Buffer; break;
            case ConvKernel c: yield return c.First.Buffer; yield return c.Second.Buffer; yield return c.Output.Buffer; break;
            case PoolKernel p:
                if (p.X is not null) yield return p.X.Buffer;
                if (p.Dy is not null) yield return p.Dy.Buffer;
                yield return p.Output.Buffer;
                break;
            case MoveKernel m:
                foreach (var i in m.Inputs) yield return i.Buffer;
                yield return m.Output.Buffer;
                break;
        }
    }

    /// <summary>Emits an epilogue method: <c>void Apply(ModelStorage s, Span&lt;float&gt; values, int row, int col, int batch, long step)</c>.</summary>
    public int EmitEpilogue(LoopKernel k, SymSize columns)
    {
        var dm = new DynamicMethod("Epilogue" + Epilogues.Count, typeof(void),
            new[] { typeof(ModelStorage), typeof(Span<float>), typeof(int), typeof(int), typeof(int), typeof(long) },
            typeof(ModelStorage).Module, skipVisibility: true);
        var m = new MethodEmitter(this, _layout, dm.GetILGenerator(), batchArg: 4, stepArg: 5);
        var buffers = new List<PlanBuffer>();
        for (int o = 0; o < k.Operands.Count; o++) if (o != k.EpilogueOperand) buffers.Add(k.Operands[o].Source.Buffer);
        for (int i = 0; i < k.Instructions.Count; i++)
            if (i != k.InPlaceInstr && k.Instructions[i].Store is View store) buffers.Add(store.Buffer);
        m.LoadArrays(buffers);
        m.EmitEpilogueBody(k, columns);
        m.IL.Emit(OpCodes.Ret);
        Epilogues.Add(dm);
        return Epilogues.Count - 1;
    }

    /// <summary>Throws <see cref="NotSupportedException"/> for a construct of the plan the IL emitter cannot express.</summary>
    public static void CheckSupported(CompiledModelPlan plan)
    {
        foreach (var p in plan.Programs.Values)
        {
            foreach (var k in p.Kernels)
            {
                switch (k)
                {
                    case LoopKernel loop: CheckLoop(loop, epilogue: false); break;
                    case GemmKernel g: if (g.Epilogue is not null) CheckLoop(g.Epilogue, epilogue: true); break;
                    case ConvKernel c: if (c.Epilogue is not null) CheckLoop(c.Epilogue, epilogue: true); break;
                    case PoolKernel: break;
                    case MoveKernel mv:
                        if (mv.Kind is not ("fill" or "copy" or "transpose" or "concat" or "slice"))
                            throw new NotSupportedException($"The IL emitter has no form for the move kernel '{mv.Kind}'.");
                        if (mv.Value is not null) CheckScalar(mv.Value);
                        break;
                    default: throw new NotSupportedException($"The IL emitter has no form for the kernel kind '{k.GetType().Name}'.");
                }
            }
        }
    }

    private static void CheckLoop(LoopKernel k, bool epilogue)
    {
        foreach (var s in k.Scalars) CheckScalar(s);
        foreach (var ins in k.Instructions)
            if (!SupportsOp(ins.Node.Op)) throw new NotSupportedException($"The IL emitter has no loop form for the op '{ins.Node.Op.Name}'.");
        if (epilogue && k.Reducers.Count > 0) throw new NotSupportedException("The IL emitter has no form for a reduction in an epilogue.");
        if (k.Reducers.Any(r => r.Kind == ReduceKind.LogSumExp) && (k.Reducers.Count != 1 || k.Reducers[0].Input.Kind != ArgKind.Operand))
            throw new NotSupportedException("The IL emitter supports logsumexp only as the single reduction of a loop, over an operand.");
    }

    private static void CheckScalar(ScalarExpr e)
    {
        switch (e)
        {
            case LiteralExpr: case CountExpr: return;
            case OpExpr o:
                if (!SupportsOp(o.Op) || o.Op is OneHotOp or DropoutMaskOp) throw new NotSupportedException($"The IL emitter has no scalar form for the op '{o.Op.Name}'.");
                foreach (var a in o.Args) CheckScalar(a);
                return;
            default: throw new NotSupportedException($"The IL emitter has no form for the scalar expression '{e.GetType().Name}'.");
        }
    }

    /// <summary>Whether the loop body emitter handles the op (the same list as the C# emitter's <c>OpCode</c> plus one_hot and dropout).</summary>
    public static bool SupportsOp(Op op) => LoopOps.Contains(op.GetType());

    /// <summary>The op types a loop instruction may have that the IL emitter handles.</summary>
    public static readonly IReadOnlyCollection<Type> LoopOps = new HashSet<Type>
    {
        typeof(NegOp), typeof(ExpOp), typeof(LogOp), typeof(SqrtOp), typeof(AbsOp), typeof(SignOp), typeof(StepOp), typeof(ReluOp),
        typeof(LeakyReluOp), typeof(EluOp), typeof(SigmoidOp), typeof(TanhOp), typeof(PowScalarOp), typeof(AddOp), typeof(SubOp),
        typeof(MulOp), typeof(DivOp), typeof(PowOp), typeof(MaximumOp), typeof(MinimumOp), typeof(EqualOp), typeof(BroadcastToOp),
        typeof(OneHotOp), typeof(DropoutMaskOp),
    };
}

/// <summary>Locals reused across the kernels of one method (kernels share nothing), so a long program stays within the JIT's tracked-locals budget.</summary>
internal sealed class LocalPool
{
    private readonly ILGenerator _il;
    private readonly Dictionary<Type, List<LocalBuilder>> _all = new();
    private readonly Dictionary<Type, int> _used = new();

    public LocalPool(ILGenerator il) => _il = il;

    public void Reset() => _used.Clear();

    public LocalBuilder Get(Type t)
    {
        if (!_all.TryGetValue(t, out var list)) _all[t] = list = new List<LocalBuilder>();
        _used.TryGetValue(t, out int n);
        _used[t] = n + 1;
        if (n < list.Count) return list[n];
        var l = _il.DeclareLocal(t);
        list.Add(l);
        return l;
    }
}

/// <summary>Emits the body of one DynamicMethod.</summary>
[RequiresDynamicCode("Emits DynamicMethods.")]
internal sealed class MethodEmitter
{
    private static readonly Type F = typeof(float);
    private static readonly Type FRef = typeof(float).MakeByRefType();
    private static readonly Type IRef = typeof(int).MakeByRefType();

    private readonly IlModelEmitter _owner;
    private readonly StorageLayout _layout;
    private readonly int _batchArg, _stepArg;
    private readonly Dictionary<int, LocalBuilder> _floatArrays = new();
    private readonly Dictionary<int, LocalBuilder> _intArrays = new();
    private LocalBuilder? _arena;

    public MethodEmitter(IlModelEmitter owner, StorageLayout layout, ILGenerator il, int batchArg, int stepArg)
    {
        _owner = owner;
        _layout = layout;
        IL = il;
        Pool = new LocalPool(il);
        _batchArg = batchArg;
        _stepArg = stepArg;
    }

    public ILGenerator IL { get; }

    public LocalPool Pool { get; }

    // ----- basics ----------------------------------------------------------------------------

    private void Ldc(int v) => IL.Emit(OpCodes.Ldc_I4, v);

    private void Ldc(long v) => IL.Emit(OpCodes.Ldc_I4, checked((int)v));

    /// <summary>A float literal as the C# emitter's <c>Lit</c> writes it: the value rounded to float.</summary>
    private void Lit(double v) => IL.Emit(OpCodes.Ldc_R4, (float)v);

    private void Ld(LocalBuilder l) => IL.Emit(OpCodes.Ldloc, l);

    private void St(LocalBuilder l) => IL.Emit(OpCodes.Stloc, l);

    private void Call(MethodInfo m) => IL.Emit(OpCodes.Call, m);

    private void Batch() => IL.Emit(OpCodes.Ldarg, _batchArg);

    /// <summary>A <see cref="SymSize"/> as an int: "128", "batch" or "128 * batch".</summary>
    private void Sym(SymSize s)
    {
        if (!s.PerBatch) { Ldc(s.Coef); return; }
        if (s.Coef == 1) { Batch(); return; }
        Ldc(s.Coef);
        Batch();
        IL.Emit(OpCodes.Mul);
    }

    private LocalBuilder Local(Type t) => Pool.Get(t);

    // ----- storage ---------------------------------------------------------------------------

    /// <summary>Loads the arrays of the given buffers into locals at the method's entry.</summary>
    public void LoadArrays(IEnumerable<PlanBuffer> buffers)
    {
        foreach (var b in buffers)
        {
            switch (b.Kind)
            {
                case StorageKind.Arena:
                    if (_arena is not null) break;
                    _arena = IL.DeclareLocal(typeof(float[]));
                    IL.Emit(OpCodes.Ldarg_0);
                    IL.Emit(OpCodes.Ldfld, IlModelEmitter.ArenaField);
                    St(_arena);
                    break;
                case StorageKind.Label:
                    LoadSlotArray(_intArrays, typeof(int[]), IlModelEmitter.IntsField, _layout.IntSlot(b.Name));
                    break;
                default:
                    LoadSlotArray(_floatArrays, typeof(float[]), IlModelEmitter.FloatsField, _layout.FloatSlot(b));
                    break;
            }
        }
    }

    /// <summary>Caches element <paramref name="slot"/> of the model's array-of-arrays field in a local, once per method.</summary>
    private void LoadSlotArray(Dictionary<int, LocalBuilder> cache, Type arrayType, FieldInfo field, int slot)
    {
        if (cache.ContainsKey(slot)) return;
        var l = IL.DeclareLocal(arrayType);
        IL.Emit(OpCodes.Ldarg_0);
        IL.Emit(OpCodes.Ldfld, field);
        Ldc(slot);
        IL.Emit(OpCodes.Ldelem_Ref);
        St(l);
        cache[slot] = l;
    }

    private void Array(PlanBuffer b)
    {
        if (b.Kind == StorageKind.Arena) Ld(_arena!);
        else if (b.Kind == StorageKind.Label) Ld(_intArrays[_layout.IntSlot(b.Name)]);
        else Ld(_floatArrays[_layout.FloatSlot(b)]);
    }

    /// <summary>The buffer's offset: a·batch + b for the arena, 0 otherwise.</summary>
    private void Offset(PlanBuffer b)
    {
        if (b.Kind != StorageKind.Arena || b.OffsetPerBatch == 0) { Ldc(b.Kind == StorageKind.Arena ? b.OffsetConstant : 0); return; }
        if (b.OffsetConstant != 0) Ldc(b.OffsetConstant);
        Sym(new SymSize(b.OffsetPerBatch, true));
        if (b.OffsetConstant != 0) IL.Emit(OpCodes.Add);
    }

    private void Span(View v)
    {
        Array(v.Buffer);
        Offset(v.Buffer);
        Sym(v.Size);
        IL.Emit(OpCodes.Newobj, Methods.NewSpan);
    }

    /// <summary>
    /// Checked mode (the C# emitter's <c>if (_checkFinite) FiniteCheck.Check(...)</c> lines after a kernel): one flag
    /// test per kernel; when set, <see cref="ModelStorage.RunFiniteChecks"/> checks each value the kernel writes,
    /// blaming the node <see cref="CheckedMode.Sites"/> names.
    /// </summary>
    public void EmitFiniteChecks(PlanKernel k)
    {
        var sites = CheckedMode.Sites(k);
        if (sites.Count == 0) return;
        var checks = new FiniteCheckCall[sites.Count];
        for (int i = 0; i < checks.Length; i++)
        {
            var (view, b) = (sites[i].View, sites[i].View.Buffer);
            checks[i] = new FiniteCheckCall(b.Kind == StorageKind.Arena ? -1 : _layout.FloatSlot(b), view,
                sites[i].NodeText, sites[i].OpName, sites[i].File, sites[i].Line);
        }
        _owner.FiniteChecks.Add(checks);
        var skip = IL.DefineLabel();
        IL.Emit(OpCodes.Ldarg_0);
        IL.Emit(OpCodes.Ldfld, IlModelEmitter.CheckFiniteField);
        IL.Emit(OpCodes.Brfalse, skip);
        IL.Emit(OpCodes.Ldarg_0);
        Ldc(_owner.FiniteChecks.Count - 1);
        Batch();
        IL.Emit(OpCodes.Call, IlModelEmitter.RunFiniteChecksMethod);
        IL.MarkLabel(skip);
    }

    private void ReadOnlySpan(View v)
    {
        Array(v.Buffer);
        Offset(v.Buffer);
        Sym(v.Size);
        IL.Emit(OpCodes.Newobj, Methods.NewReadOnlySpan);
    }

    /// <summary>ref array[offset] (no bounds check, as Unsafe.Add on the span's reference).</summary>
    private void DataRef(PlanBuffer b, bool isInt)
    {
        Array(b);
        Call(isInt ? Methods.IntData : Methods.FloatData);
        Offset(b);
        IL.Emit(OpCodes.Conv_I);
        Ldc(4);
        IL.Emit(OpCodes.Mul);
        IL.Emit(OpCodes.Add);
    }

    /// <summary>Pushes ref r + index·4 where the index is produced by <paramref name="index"/>.</summary>
    private void Address(LocalBuilder r, Action index)
    {
        Ld(r);
        index();
        IL.Emit(OpCodes.Conv_I);
        Ldc(4);
        IL.Emit(OpCodes.Mul);
        IL.Emit(OpCodes.Add);
    }

    // ----- scalar expressions ---------------------------------------------------------------

    private void Scalar(ScalarExpr e)
    {
        switch (e)
        {
            case LiteralExpr l: Lit(l.Value); return;
            case CountExpr c:
                if (c.Count.PerBatch) { Sym(c.Count); IL.Emit(OpCodes.Conv_R4); }
                else Lit(c.Count.Coef);
                return;
            case OpExpr o:
            {
                var args = new LocalBuilder[o.Args.Length];
                for (int i = 0; i < args.Length; i++)
                {
                    Scalar(o.Args[i]);
                    args[i] = Local(F);
                    St(args[i]);
                }
                Op(o.Op, args, null);
                return;
            }
            default: throw new NotSupportedException($"The IL emitter has no form for the scalar expression '{e.GetType().Name}'.");
        }
    }

    // ----- pointwise ops (mirror of ModelWriter.OpCode) --------------------------------------

    private void Zero(VectorApi? v) { if (v is null) Lit(0); else Call(v.Zero); }

    private void One(VectorApi? v) { if (v is null) Lit(1); else Call(v.One); }

    private void Const(double value, VectorApi? v)
    {
        Lit(value);
        if (v is not null) Call(v.Create);
    }

    /// <summary>Scalar <c>cond ? a : b</c>.</summary>
    private void Choose(Action cond, Action a, Action b)
    {
        var other = IL.DefineLabel();
        var end = IL.DefineLabel();
        cond();
        IL.Emit(OpCodes.Brfalse, other);
        a();
        IL.Emit(OpCodes.Br, end);
        IL.MarkLabel(other);
        b();
        IL.MarkLabel(end);
    }

    /// <summary>Pushes the op applied to the values in <paramref name="a"/>; <paramref name="v"/> null for scalar code.</summary>
    private void Op(Op op, LocalBuilder[] a, VectorApi? v)
    {
        LocalBuilder x = a.Length > 0 ? a[0] : null!;
        void X() => Ld(x);
        void Bin(OpCode scalar, Func<VectorApi, MethodInfo> vector)
        {
            Ld(a[0]);
            Ld(a[1]);
            if (v is null) IL.Emit(scalar);
            else Call(vector(v));
        }
        void Gt0() { X(); Zero(v); if (v is null) IL.Emit(OpCodes.Cgt); else Call(v.GreaterThan); }
        switch (op)
        {
            case NegOp:
                X();
                if (v is null) IL.Emit(OpCodes.Neg); else Call(v.Neg);
                return;
            case ExpOp: X(); Call(v is null ? Methods.Exp : v.Exp); return;
            case LogOp: X(); Call(v is null ? Methods.Log : v.Log); return;
            case SqrtOp: X(); Call(v is null ? Methods.Sqrt : v.Sqrt); return;
            case AbsOp: X(); Call(v is null ? Methods.Abs : v.Abs); return;
            case SignOp:
                if (v is null)
                {
                    // (x > 0f ? 1f : x < 0f ? -1f : 0f)
                    Choose(() => { X(); Lit(0); IL.Emit(OpCodes.Cgt); }, () => Lit(1),
                        () => Choose(() => { X(); Lit(0); IL.Emit(OpCodes.Clt); }, () => Lit(-1), () => Lit(0)));
                }
                else
                {
                    // ConditionalSelect(GreaterThan(x, Z), One, ConditionalSelect(LessThan(x, Z), -One, Z))
                    Gt0();
                    One(v);
                    X(); Zero(v); Call(v.LessThan);
                    One(v); Call(v.Neg);
                    Zero(v);
                    Call(v.Select);
                    Call(v.Select);
                }
                return;
            case StepOp:
                if (v is null) Choose(() => { X(); Lit(0); IL.Emit(OpCodes.Cgt); }, () => Lit(1), () => Lit(0));
                else { Gt0(); One(v); Zero(v); Call(v.Select); }
                return;
            case ReluOp:
                if (v is null) Choose(() => { X(); Lit(0); IL.Emit(OpCodes.Cgt); }, X, () => Lit(0));
                else { X(); Zero(v); Call(v.Max); }
                return;
            case LeakyReluOp l:
                if (v is null) Choose(() => { X(); Lit(0); IL.Emit(OpCodes.Cgt); }, X, () => { Lit(l.Alpha); X(); IL.Emit(OpCodes.Mul); });
                else { Gt0(); X(); X(); Const(l.Alpha, v); Call(v.Mul); Call(v.Select); }
                return;
            case EluOp e:
                if (v is null)
                    Choose(() => { X(); Lit(0); IL.Emit(OpCodes.Cgt); }, X, () =>
                    {
                        Lit(e.Alpha);
                        X(); Call(Methods.Exp); Lit(1); IL.Emit(OpCodes.Sub);
                        IL.Emit(OpCodes.Mul);
                    });
                else
                {
                    Gt0();
                    X();
                    X(); Call(v.Exp); One(v); Call(v.Sub);
                    Const(e.Alpha, v); Call(v.Mul);
                    Call(v.Select);
                }
                return;
            case SigmoidOp:
                // 1 / (1 + exp(-x))
                One(v);
                One(v);
                X();
                if (v is null) { IL.Emit(OpCodes.Neg); Call(Methods.Exp); IL.Emit(OpCodes.Add); IL.Emit(OpCodes.Div); }
                else { Call(v.Neg); Call(v.Exp); Call(v.Add); Call(v.Div); }
                return;
            case TanhOp:
                if (v is null) { X(); Call(Methods.Tanh); return; }
                {
                    // var e = Exp(Abs(x) * Create(-2f)); CopySign((One - e) / (One + e), x)
                    var ev = Local(v.Type);
                    X(); Call(v.Abs); Const(-2, v); Call(v.Mul); Call(v.Exp); St(ev);
                    One(v); Ld(ev); Call(v.Sub);
                    One(v); Ld(ev); Call(v.Add);
                    Call(v.Div);
                    X();
                    Call(v.CopySign);
                }
                return;
            case PowScalarOp p:
            {
                double e = p.Exponent;
                if (e == 0) { One(v); return; }
                if (e == 1) { X(); return; }
                if (e == 2) { X(); X(); Mul(v); return; }
                if (e == 3) { X(); X(); Mul(v); X(); Mul(v); return; }
                if (e == 0.5) { X(); Call(v is null ? Methods.Sqrt : v.Sqrt); return; }
                if (e == -1) { One(v); X(); if (v is null) IL.Emit(OpCodes.Div); else Call(v.Div); return; }
                if (v is null) { X(); Lit(e); Call(Methods.Pow); return; }
                if (e == Math.Floor(e) && Math.Abs(e) < 1e9)
                {
                    X(); Call(v.Abs); Call(v.Log); Const(e, v); Call(v.Mul); Call(v.Exp);
                    if (((long)e) % 2 != 0) { X(); Call(v.CopySign); }
                    return;
                }
                X(); Call(v.Log); Const(e, v); Call(v.Mul); Call(v.Exp);
                return;
            }
            case AddOp: Bin(OpCodes.Add, w => w.Add); return;
            case SubOp: Bin(OpCodes.Sub, w => w.Sub); return;
            case MulOp: Bin(OpCodes.Mul, w => w.Mul); return;
            case DivOp: Bin(OpCodes.Div, w => w.Div); return;
            case PowOp:
                if (v is null) { Ld(a[0]); Ld(a[1]); Call(Methods.Pow); }
                else { Ld(a[0]); Call(v.Log); Ld(a[1]); Call(v.Mul); Call(v.Exp); }
                return;
            case MaximumOp: Ld(a[0]); Ld(a[1]); Call(v is null ? Methods.Max : v.Max); return;
            case MinimumOp: Ld(a[0]); Ld(a[1]); Call(v is null ? Methods.Min : v.Min); return;
            case EqualOp:
                if (v is null) Choose(() => { Ld(a[0]); Ld(a[1]); IL.Emit(OpCodes.Ceq); }, () => Lit(1), () => Lit(0));
                else { Ld(a[0]); Ld(a[1]); Call(v.Equal); One(v); Zero(v); Call(v.Select); }
                return;
            case BroadcastToOp: X(); return;
            default: throw new NotSupportedException($"The op '{op.Name}' has no loop form yet.");
        }
    }

    private void Mul(VectorApi? v)
    {
        if (v is null) IL.Emit(OpCodes.Mul);
        else Call(v.Mul);
    }

    // ----- loops (mirror of ModelWriter.WriteLoop / WriteChunk / WriteBody) -------------------

    private sealed class Loop
    {
        public required LoopKernel K;
        public LocalBuilder[] S = System.Array.Empty<LocalBuilder>();
        public LocalBuilder[] R = System.Array.Empty<LocalBuilder>();
        public LocalBuilder?[] W = System.Array.Empty<LocalBuilder?>();
        public LocalBuilder[] Q = System.Array.Empty<LocalBuilder>();
        public LocalBuilder?[] Key = System.Array.Empty<LocalBuilder?>();
        public LocalBuilder[] B = System.Array.Empty<LocalBuilder>();
        public LocalBuilder[] Ob = System.Array.Empty<LocalBuilder>();
        public LocalBuilder[] Acc = System.Array.Empty<LocalBuilder>();
        public LocalBuilder F = null!, Len = null!, J = null!;
        public bool[] Present = System.Array.Empty<bool>();
        public bool[] ReducedRun = System.Array.Empty<bool>();
        public bool Epilogue;
        // Per-body values.
        public LocalBuilder[] C = System.Array.Empty<LocalBuilder>();
        public LocalBuilder[] Vs = System.Array.Empty<LocalBuilder>();
        public LocalBuilder[] VAcc = System.Array.Empty<LocalBuilder>();
        public LocalBuilder[] T = System.Array.Empty<LocalBuilder>();
    }

    private static bool Present(SymSize[] strides, Shape domain, int innerAxis)
    {
        for (int a = innerAxis; a < domain.Rank; a++)
            if (domain[a] != 1 && strides[a].Coef != 0) return true;
        return false;
    }


    /// <summary>Element index at flat domain position f (mirror of ModelWriter.IndexCode).</summary>
    private void Index(SymSize[] strides, Shape domain, LocalBuilder f)
    {
        bool any = false;
        foreach (var run in LoopIndexing.Runs(strides, domain))
        {
            Ld(f);
            if (!run.Inner.IsOne) { Sym(run.Inner); IL.Emit(OpCodes.Div); }
            if (!run.Leading) { Sym(run.Extent); IL.Emit(OpCodes.Rem); }
            if (!run.Stride.IsOne) { Sym(run.Stride); IL.Emit(OpCodes.Mul); }
            if (any) IL.Emit(OpCodes.Add);
            any = true;
        }
        if (!any) Ldc(0);
    }

    /// <summary>A fused loop kernel in a program body.</summary>
    public void EmitLoop(LoopKernel k)
    {
        var L = new Loop { K = k };
        L.S = new LocalBuilder[k.Scalars.Count];
        for (int s = 0; s < k.Scalars.Count; s++)
        {
            Scalar(k.Scalars[s]);
            L.S[s] = Local(F);
            St(L.S[s]);
        }
        L.R = new LocalBuilder[k.Operands.Count];
        for (int o = 0; o < k.Operands.Count; o++)
        {
            var op = k.Operands[o];
            DataRef(op.Source.Buffer, op.IsLabel);
            L.R[o] = Local(op.IsLabel ? IRef : FRef);
            St(L.R[o]);
        }
        L.W = new LocalBuilder?[k.Instructions.Count];
        for (int i = 0; i < k.Instructions.Count; i++)
        {
            if (k.Instructions[i].Store is not View store) continue;
            DataRef(store.Buffer, false);
            L.W[i] = Local(FRef);
            St(L.W[i]!);
        }
        L.Q = new LocalBuilder[k.Reducers.Count];
        for (int r = 0; r < k.Reducers.Count; r++)
        {
            var red = k.Reducers[r];
            if (red.Kind != ReduceKind.LogSumExp)
            {
                Array(red.Output.Buffer);
                Offset(red.Output.Buffer);
                Sym(red.Output.Size);
                if (red.Kind == ReduceKind.Sum) Call(typeof(JitHelpers).GetMethod(nameof(JitHelpers.Clear))!);
                else { Lit(float.NegativeInfinity); Call(typeof(JitHelpers).GetMethod(nameof(JitHelpers.Fill))!); }
            }
            DataRef(red.Output.Buffer, false);
            L.Q[r] = Local(FRef);
            St(L.Q[r]);
        }
        L.Key = new LocalBuilder?[k.Instructions.Count];
        for (int i = 0; i < k.Instructions.Count; i++)
        {
            if (k.Instructions[i].Node.Op is not DropoutMaskOp dm) continue;
            StreamKey(dm);
            L.Key[i] = Local(typeof(ulong));
            St(L.Key[i]!);
        }
        L.Len = Local(typeof(int));
        Sym(k.Inner);
        St(L.Len);
        L.F = Local(typeof(int));
        L.J = Local(typeof(int));
        // for (int f = 0; f < total; f += len)
        var cond = IL.DefineLabel();
        var body = IL.DefineLabel();
        Ldc(0);
        St(L.F);
        IL.Emit(OpCodes.Br, cond);
        IL.MarkLabel(body);
        Chunk(L, epilogue: false);
        Ld(L.F); Ld(L.Len); IL.Emit(OpCodes.Add); St(L.F);
        IL.MarkLabel(cond);
        Ld(L.F);
        Sym(SymSize.Of(k.Domain));
        IL.Emit(OpCodes.Blt, body);
    }

    /// <summary>CounterRandom.StreamKey(seed, stream, step).</summary>
    private void StreamKey(DropoutMaskOp dm)
    {
        IL.Emit(OpCodes.Ldarg_0);
        IL.Emit(OpCodes.Ldfld, IlModelEmitter.SeedField);
        IL.Emit(OpCodes.Ldc_I8, (long)(ulong)dm.Stream);
        IL.Emit(OpCodes.Ldarg, _stepArg);
        Call(Methods.StreamKey);
    }

    /// <summary>The body of an epilogue's Apply (mirror of ModelWriter.EpilogueStruct).</summary>
    public void EmitEpilogueBody(LoopKernel k, SymSize columns)
    {
        var L = new Loop { K = k, Epilogue = true };
        // int f = row * (columns) + col; int len = values.Length; ref float v = ref MemoryMarshal.GetReference(values);
        L.F = Local(typeof(int));
        IL.Emit(OpCodes.Ldarg_2);
        Sym(columns);
        IL.Emit(OpCodes.Mul);
        IL.Emit(OpCodes.Ldarg_3);
        IL.Emit(OpCodes.Add);
        St(L.F);
        L.Len = Local(typeof(int));
        IL.Emit(OpCodes.Ldarga_S, (byte)1);
        Call(Methods.SpanLength);
        St(L.Len);
        var vref = Local(FRef);
        IL.Emit(OpCodes.Ldarg_1);
        Call(Methods.SpanReference);
        St(vref);
        L.S = new LocalBuilder[k.Scalars.Count];
        for (int s = 0; s < k.Scalars.Count; s++)
        {
            Scalar(k.Scalars[s]);
            L.S[s] = Local(F);
            St(L.S[s]);
        }
        L.R = new LocalBuilder[k.Operands.Count];
        for (int o = 0; o < k.Operands.Count; o++)
        {
            if (o == k.EpilogueOperand) { L.R[o] = vref; continue; }
            var op = k.Operands[o];
            DataRef(op.Source.Buffer, op.IsLabel);
            L.R[o] = Local(op.IsLabel ? IRef : FRef);
            St(L.R[o]);
        }
        L.W = new LocalBuilder?[k.Instructions.Count];
        for (int i = 0; i < k.Instructions.Count; i++)
        {
            if (i == k.InPlaceInstr) { L.W[i] = vref; continue; }
            if (k.Instructions[i].Store is not View store) continue;
            DataRef(store.Buffer, false);
            L.W[i] = Local(FRef);
            St(L.W[i]!);
        }
        L.Key = new LocalBuilder?[k.Instructions.Count];
        for (int i = 0; i < k.Instructions.Count; i++)
        {
            if (k.Instructions[i].Node.Op is not DropoutMaskOp dm) continue;
            StreamKey(dm);
            L.Key[i] = Local(typeof(ulong));
            St(L.Key[i]!);
        }
        L.J = Local(typeof(int));
        Chunk(L, epilogue: true);
    }

    /// <summary>One run of len elements from flat position f (mirror of ModelWriter.WriteChunk).</summary>
    private void Chunk(Loop L, bool epilogue)
    {
        var k = L.K;
        L.Present = k.Operands.Select(o => Present(o.Strides, k.Domain, k.InnerAxis)).ToArray();
        L.B = new LocalBuilder[k.Operands.Count];
        for (int o = 0; o < k.Operands.Count; o++)
        {
            if (epilogue && o == k.EpilogueOperand) Ldc(0);
            else Index(k.Operands[o].Strides, k.Domain, L.F);
            L.B[o] = Local(typeof(int));
            St(L.B[o]);
        }
        L.ReducedRun = k.Reducers.Select(r => !Present(r.OutStrides, k.Domain, k.InnerAxis)).ToArray();
        L.Ob = new LocalBuilder[k.Reducers.Count];
        for (int r = 0; r < k.Reducers.Count; r++)
        {
            Index(k.Reducers[r].OutStrides, k.Domain, L.F);
            L.Ob[r] = Local(typeof(int));
            St(L.Ob[r]);
        }
        if (k.Reducers.Count == 1 && k.Reducers[0].Kind == ReduceKind.LogSumExp)
        {
            LogSumExpRun(L);
            return;
        }
        L.Acc = new LocalBuilder[k.Reducers.Count];
        for (int r = 0; r < k.Reducers.Count; r++)
        {
            if (!L.ReducedRun[r]) continue;
            Lit(k.Reducers[r].Kind == ReduceKind.Max ? float.NegativeInfinity : 0f);
            L.Acc[r] = Local(F);
            St(L.Acc[r]);
        }
        bool vector = k.Vectorizable && (k.Inner.PerBatch || k.Inner.Coef >= 8 || epilogue);
        Ldc(0);
        St(L.J);
        if (vector)
        {
            // if (Vector512.IsHardwareAccelerated) {...} if (Vector256.IsHardwareAccelerated) {...}: the code runs in
            // this process, so the branches the generated code takes here are known now and only they are emitted (less
            // IL for the .NET JIT to import; the same instructions run). The 8-wide loop takes a remainder of 8-15.
            if (Vector512.IsHardwareAccelerated) VectorLoop(L, VectorApi.V512);
            if (Vector256.IsHardwareAccelerated) VectorLoop(L, VectorApi.V256);
        }
        // for (; j < len; j++) body
        {
            var cond = IL.DefineLabel();
            var body = IL.DefineLabel();
            IL.Emit(OpCodes.Br, cond);
            IL.MarkLabel(body);
            Body(L, null);
            Ld(L.J); Ldc(1); IL.Emit(OpCodes.Add); St(L.J);
            IL.MarkLabel(cond);
            Ld(L.J); Ld(L.Len);
            IL.Emit(OpCodes.Blt, body);
        }
        for (int r = 0; r < k.Reducers.Count; r++)
        {
            if (!L.ReducedRun[r]) continue;
            // q[ob] = MathF.Max(q[ob], acc) or q[ob] += acc
            Address(L.Q[r], () => Ld(L.Ob[r]));
            IL.Emit(OpCodes.Dup);
            IL.Emit(OpCodes.Ldind_R4);
            Ld(L.Acc[r]);
            if (k.Reducers[r].Kind == ReduceKind.Max) Call(Methods.Max);
            else IL.Emit(OpCodes.Add);
            IL.Emit(OpCodes.Stind_R4);
        }
    }

    private void VectorLoop(Loop L, VectorApi v)
    {
        var k = L.K;
        L.C = new LocalBuilder[k.Operands.Count];
        for (int o = 0; o < k.Operands.Count; o++)
        {
            if (L.Present[o] || k.Operands[o].IsLabel) continue;
            Address(L.R[o], () => Ld(L.B[o]));
            IL.Emit(OpCodes.Ldind_R4);
            Call(v.Create);
            L.C[o] = Local(v.Type);
            St(L.C[o]);
        }
        L.Vs = new LocalBuilder[k.Scalars.Count];
        for (int s = 0; s < k.Scalars.Count; s++)
        {
            Ld(L.S[s]);
            Call(v.Create);
            L.Vs[s] = Local(v.Type);
            St(L.Vs[s]);
        }
        L.VAcc = new LocalBuilder[k.Reducers.Count];
        for (int r = 0; r < k.Reducers.Count; r++)
        {
            if (!L.ReducedRun[r]) continue;
            if (k.Reducers[r].Kind == ReduceKind.Max) { Lit(float.NegativeInfinity); Call(v.Create); }
            else Call(v.Zero);
            L.VAcc[r] = Local(v.Type);
            St(L.VAcc[r]);
        }
        // for (; j <= len - lanes; j += lanes)
        var cond = IL.DefineLabel();
        var body = IL.DefineLabel();
        IL.Emit(OpCodes.Br, cond);
        IL.MarkLabel(body);
        Body(L, v);
        Ld(L.J); Ldc(v.Lanes); IL.Emit(OpCodes.Add); St(L.J);
        IL.MarkLabel(cond);
        Ld(L.J); Ld(L.Len); Ldc(v.Lanes); IL.Emit(OpCodes.Sub);
        IL.Emit(OpCodes.Ble, body);
        for (int r = 0; r < k.Reducers.Count; r++)
        {
            if (!L.ReducedRun[r]) continue;
            if (k.Reducers[r].Kind == ReduceKind.Max) LaneMax(L.Acc[r], L.VAcc[r], v);
            else
            {
                Ld(L.Acc[r]); Ld(L.VAcc[r]); Call(v.Sum); IL.Emit(OpCodes.Add); St(L.Acc[r]);
            }
        }
    }

    /// <summary>for (int lane = 0; lane &lt; lanes; lane++) acc = MathF.Max(acc, vacc.GetElement(lane));</summary>
    private void LaneMax(LocalBuilder acc, LocalBuilder vacc, VectorApi v)
    {
        var lane = Local(typeof(int));
        var cond = IL.DefineLabel();
        var body = IL.DefineLabel();
        Ldc(0); St(lane);
        IL.Emit(OpCodes.Br, cond);
        IL.MarkLabel(body);
        Ld(acc); Ld(vacc); Ld(lane); Call(v.GetElement); Call(Methods.Max); St(acc);
        Ld(lane); Ldc(1); IL.Emit(OpCodes.Add); St(lane);
        IL.MarkLabel(cond);
        Ld(lane); Ldc(v.Lanes);
        IL.Emit(OpCodes.Blt, body);
    }

    /// <summary>Pushes b[o] + j (present) or b[o].</summary>
    private void OperandIndex(Loop L, int o, bool withJ)
    {
        Ld(L.B[o]);
        if (withJ) { Ld(L.J); IL.Emit(OpCodes.Add); }
    }

    /// <summary>Pushes an instruction argument (mirror of ModelWriter.ArgCode).</summary>
    private void Arg(Loop L, Arg a, VectorApi? v)
    {
        switch (a.Kind)
        {
            case ArgKind.Scalar: Ld(v is null ? L.S[a.Index] : L.Vs[a.Index]); return;
            case ArgKind.Temp: Ld(L.T[a.Index]); return;
            default:
            {
                int o = a.Index;
                bool present = L.Present[o];
                if (v is null)
                {
                    Address(L.R[o], () => OperandIndex(L, o, present));
                    IL.Emit(OpCodes.Ldind_R4);
                }
                else if (present)
                {
                    Ld(L.R[o]);
                    OperandIndex(L, o, true);
                    IL.Emit(OpCodes.Conv_I);
                    Call(v.Load);
                }
                else Ld(L.C[o]);
                return;
            }
        }
    }

    private void Body(Loop L, VectorApi? v)
    {
        var k = L.K;
        Type t = v is null ? F : v.Type;
        L.T = new LocalBuilder[k.Instructions.Count];
        for (int i = 0; i < k.Instructions.Count; i++)
        {
            var ins = k.Instructions[i];
            switch (ins.Node.Op)
            {
                case OneHotOp oh:
                {
                    // ((f + j) % classes == label ? 1f : 0f)
                    var label = ins.Args[0];
                    Choose(() =>
                    {
                        Ld(L.F); Ld(L.J); IL.Emit(OpCodes.Add); Ldc(oh.Classes); IL.Emit(OpCodes.Rem);
                        Address(L.R[label.Index], () => OperandIndex(L, label.Index, L.Present[label.Index]));
                        IL.Emit(OpCodes.Ldind_I4);
                        IL.Emit(OpCodes.Ceq);
                    }, () => Lit(1), () => Lit(0));
                    break;
                }
                case DropoutMaskOp dm:
                    // (CounterRandom.Uniform(key, f + j) < p ? 0f : 1 / (1 - p))
                    Choose(() =>
                    {
                        Ld(L.Key[i]!);
                        Ld(L.F); Ld(L.J); IL.Emit(OpCodes.Add); IL.Emit(OpCodes.Conv_I8);
                        Call(Methods.Uniform);
                        Lit(dm.Probability);
                        IL.Emit(OpCodes.Clt);
                    }, () => Lit(0), () => Lit(1 / (1 - dm.Probability)));
                    break;
                default:
                {
                    var args = new LocalBuilder[ins.Args.Length];
                    for (int a = 0; a < args.Length; a++)
                    {
                        if (ins.Args[a].Kind == ArgKind.Temp) { args[a] = L.T[ins.Args[a].Index]; continue; }
                        Arg(L, ins.Args[a], v);
                        args[a] = Local(t);
                        St(args[a]);
                    }
                    Op(ins.Node.Op, args, v);
                    break;
                }
            }
            L.T[i] = Local(t);
            St(L.T[i]);
        }
        // Stores come after every read of the iteration.
        for (int i = 0; i < k.Instructions.Count; i++)
        {
            if (k.Instructions[i].Store is null) continue;
            bool atJ = L.Epilogue && i == k.InPlaceInstr;
            void At()
            {
                if (atJ) Ld(L.J);
                else { Ld(L.F); Ld(L.J); IL.Emit(OpCodes.Add); }
            }
            if (v is null)
            {
                Address(L.W[i]!, At);
                Ld(L.T[i]);
                IL.Emit(OpCodes.Stind_R4);
            }
            else
            {
                Ld(L.T[i]);
                Ld(L.W[i]!);
                At();
                IL.Emit(OpCodes.Conv_I);
                Call(v.Store);
            }
        }
        for (int r = 0; r < k.Reducers.Count; r++)
        {
            var red = k.Reducers[r];
            bool max = red.Kind == ReduceKind.Max;
            if (L.ReducedRun[r])
            {
                if (v is null)
                {
                    Ld(L.Acc[r]); Arg(L, red.Input, v);
                    if (max) Call(Methods.Max); else IL.Emit(OpCodes.Add);
                    St(L.Acc[r]);
                }
                else
                {
                    Ld(L.VAcc[r]); Arg(L, red.Input, v);
                    Call(max ? v.Max : v.Add);
                    St(L.VAcc[r]);
                }
            }
            else if (v is null)
            {
                Address(L.Q[r], () => { Ld(L.Ob[r]); Ld(L.J); IL.Emit(OpCodes.Add); });
                IL.Emit(OpCodes.Dup);
                IL.Emit(OpCodes.Ldind_R4);
                Arg(L, red.Input, v);
                if (max) Call(Methods.Max); else IL.Emit(OpCodes.Add);
                IL.Emit(OpCodes.Stind_R4);
            }
            else
            {
                Ld(L.Q[r]); Ld(L.Ob[r]); Ld(L.J); IL.Emit(OpCodes.Add); IL.Emit(OpCodes.Conv_I); Call(v.Load);
                Arg(L, red.Input, v);
                Call(max ? v.Max : v.Add);
                Ld(L.Q[r]); Ld(L.Ob[r]); Ld(L.J); IL.Emit(OpCodes.Add); IL.Emit(OpCodes.Conv_I);
                Call(v.Store);
            }
        }
    }

    /// <summary>Mirror of ModelWriter.WriteLogSumExpRun.</summary>
    private void LogSumExpRun(Loop L)
    {
        int o = L.K.Reducers[0].Input.Index;
        var r = L.R[o];
        var b = L.B[o];
        var max = Local(F);
        var sum = Local(F);
        void ScalarAt() { Address(r, () => { Ld(b); Ld(L.J); IL.Emit(OpCodes.Add); }); IL.Emit(OpCodes.Ldind_R4); }
        void VecAt(VectorApi v) { Ld(r); Ld(b); Ld(L.J); IL.Emit(OpCodes.Add); IL.Emit(OpCodes.Conv_I); Call(v.Load); }
        void VectorIf(Action<VectorApi> body)
        {
            // if (Vector512.IsHardwareAccelerated && len >= 16) {...} else if (Vector256.IsHardwareAccelerated && len >= 8) {...}
            // with the hardware tests decided now (this process runs the code); the length tests stay.
            var try256 = IL.DefineLabel();
            var done = IL.DefineLabel();
            if (Vector512.IsHardwareAccelerated)
            {
                Ld(L.Len); Ldc(16);
                IL.Emit(OpCodes.Blt, try256);
                body(VectorApi.V512);
                IL.Emit(OpCodes.Br, done);
            }
            IL.MarkLabel(try256);
            if (Vector256.IsHardwareAccelerated)
            {
                Ld(L.Len); Ldc(8);
                IL.Emit(OpCodes.Blt, done);
                body(VectorApi.V256);
            }
            IL.MarkLabel(done);
        }
        void ForJ(int step, Action body, bool vectorBound)
        {
            var cond = IL.DefineLabel();
            var top = IL.DefineLabel();
            IL.Emit(OpCodes.Br, cond);
            IL.MarkLabel(top);
            body();
            Ld(L.J); Ldc(step); IL.Emit(OpCodes.Add); St(L.J);
            IL.MarkLabel(cond);
            Ld(L.J); Ld(L.Len);
            if (vectorBound) { Ldc(step); IL.Emit(OpCodes.Sub); IL.Emit(OpCodes.Ble, top); }
            else IL.Emit(OpCodes.Blt, top);
        }
        Lit(float.NegativeInfinity); St(max);
        Ldc(0); St(L.J);
        VectorIf(v =>
        {
            var vmax = Local(v.Type);
            Lit(float.NegativeInfinity); Call(v.Create); St(vmax);
            ForJ(v.Lanes, () => { Ld(vmax); VecAt(v); Call(v.Max); St(vmax); }, true);
            LaneMax(max, vmax, v);
        });
        ForJ(1, () => { Ld(max); ScalarAt(); Call(Methods.Max); St(max); }, false);
        Lit(0); St(sum);
        Ldc(0); St(L.J);
        VectorIf(v =>
        {
            var vmax = Local(v.Type);
            var vsum = Local(v.Type);
            Ld(max); Call(v.Create); St(vmax);
            Call(v.Zero); St(vsum);
            ForJ(v.Lanes, () => { Ld(vsum); VecAt(v); Ld(vmax); Call(v.Sub); Call(v.Exp); Call(v.Add); St(vsum); }, true);
            Ld(sum); Ld(vsum); Call(v.Sum); IL.Emit(OpCodes.Add); St(sum);
        });
        ForJ(1, () => { Ld(sum); ScalarAt(); Ld(max); IL.Emit(OpCodes.Sub); Call(Methods.Exp); IL.Emit(OpCodes.Add); St(sum); }, false);
        // q[ob] = float.IsNegativeInfinity(max) ? max : max + MathF.Log(sum);
        Address(L.Q[0], () => Ld(L.Ob[0]));
        Choose(() => { Ld(max); Call(Methods.IsNegativeInfinity); }, () => Ld(max), () => { Ld(max); Ld(sum); Call(Methods.Log); IL.Emit(OpCodes.Add); });
        IL.Emit(OpCodes.Stind_R4);
    }

    // ----- runtime kernels -------------------------------------------------------------------

    private static readonly MethodInfo s_gemm = typeof(Gemm).GetMethods().Single(m => m.Name == nameof(Gemm.Multiply) && !m.IsGenericMethodDefinition);
    private static readonly MethodInfo s_gemmEpilogue = typeof(Gemm).GetMethods().Single(m => m.Name == nameof(Gemm.Multiply) && m.IsGenericMethodDefinition).MakeGenericMethod(typeof(DelegateEpilogue));
    private static readonly MethodInfo s_convForward = typeof(Conv2d).GetMethods().Single(m => m.Name == nameof(Conv2d.Forward) && !m.IsGenericMethodDefinition);
    private static readonly MethodInfo s_convForwardEpilogue = typeof(Conv2d).GetMethods().Single(m => m.Name == nameof(Conv2d.Forward) && m.IsGenericMethodDefinition).MakeGenericMethod(typeof(DelegateEpilogue));
    private static readonly MethodInfo s_convInput = typeof(Conv2d).GetMethod(nameof(Conv2d.BackwardInput))!;
    private static readonly MethodInfo s_convFilter = typeof(Conv2d).GetMethod(nameof(Conv2d.BackwardFilter))!;
    private static readonly ConstructorInfo s_epilogueCtor = typeof(DelegateEpilogue).GetConstructors()[0];

    /// <summary>new DelegateEpilogue(s.Epilogues[index], batch, step) in a local.</summary>
    private LocalBuilder Epilogue(int index)
    {
        IL.Emit(OpCodes.Ldarg_0);
        IL.Emit(OpCodes.Ldfld, IlModelEmitter.EpiloguesField);
        Ldc(index);
        IL.Emit(OpCodes.Ldelem_Ref);
        Batch();
        IL.Emit(OpCodes.Ldarg, _stepArg);
        IL.Emit(OpCodes.Newobj, s_epilogueCtor);
        var l = Local(typeof(DelegateEpilogue));
        St(l);
        return l;
    }

    public void EmitGemm(GemmKernel g)
    {
        LocalBuilder? epi = g.Epilogue is null ? null : Epilogue(_owner.EmitEpilogue(g.Epilogue, g.N));
        Ldc(g.TransA ? (int)Transpose.Transposed : (int)Transpose.None);
        Ldc(g.TransB ? (int)Transpose.Transposed : (int)Transpose.None);
        Sym(g.M); Sym(g.N); Sym(g.K);
        ReadOnlySpan(g.A); Sym(g.Lda);
        ReadOnlySpan(g.B); Sym(g.Ldb);
        Span(g.C); Sym(g.N);
        Ldc(0); // accumulate: false
        if (epi is null) Call(s_gemm);
        else
        {
            IL.Emit(OpCodes.Ldloca, epi);
            Call(s_gemmEpilogue);
        }
    }

    private void ConvShape(ConvKernel c)
    {
        IL.Emit(OpCodes.Ldarg_0);
        IL.Emit(OpCodes.Ldfld, IlModelEmitter.ConvField);
        Ldc(_layout.ConvIndex(c));
        IL.Emit(OpCodes.Ldelema, typeof(Conv2dShape));
    }

    private void Workspace()
    {
        IL.Emit(OpCodes.Ldarg_0);
        IL.Emit(OpCodes.Ldfld, IlModelEmitter.WorkspaceField);
        IL.Emit(OpCodes.Newobj, Methods.NewWholeSpan);
    }

    public void EmitConv(ConvKernel c)
    {
        switch (c.Pass)
        {
            case ConvPass.Forward:
            {
                LocalBuilder? epi = c.Epilogue is null ? null
                    : Epilogue(_owner.EmitEpilogue(c.Epilogue, SymSize.Const((long)c.Window.OutH(c.Height) * c.Window.OutW(c.Width))));
                ConvShape(c); Sym(c.Batch); ReadOnlySpan(c.First); ReadOnlySpan(c.Second); Span(c.Output); Workspace();
                if (epi is null) Call(s_convForward);
                else
                {
                    IL.Emit(OpCodes.Ldloca, epi);
                    Call(s_convForwardEpilogue);
                }
                break;
            }
            case ConvPass.BackwardInput:
                ConvShape(c); Sym(c.Batch); ReadOnlySpan(c.First); ReadOnlySpan(c.Second); Span(c.Output); Workspace();
                Call(s_convInput);
                break;
            default:
                ConvShape(c); Sym(c.Batch); ReadOnlySpan(c.First); ReadOnlySpan(c.Second); Span(c.Output); Workspace();
                Ldc(0);
                Call(s_convFilter);
                break;
        }
    }

    public void EmitPool(PoolKernel p)
    {
        IL.Emit(OpCodes.Ldarg_0);
        IL.Emit(OpCodes.Ldfld, IlModelEmitter.PoolField);
        Ldc(_layout.PoolIndex(p));
        IL.Emit(OpCodes.Ldelema, typeof(Pool2dShape));
        Sym(p.Batch);
        string name;
        if (p.IsMax)
        {
            ReadOnlySpan(p.X!);
            if (p.IsBackward) { ReadOnlySpan(p.Dy!); name = nameof(Pool2d.MaxBackward); }
            else name = nameof(Pool2d.MaxForward);
        }
        else if (p.IsBackward) { ReadOnlySpan(p.Dy!); name = nameof(Pool2d.AvgBackward); }
        else { ReadOnlySpan(p.X!); name = nameof(Pool2d.AvgForward); }
        Span(p.Output);
        Call(typeof(Pool2d).GetMethod(name)!);
    }

    public void EmitMove(MoveKernel m)
    {
        var outShape = m.Output.Shape;
        switch (m.Kind)
        {
            case "fill":
                Array(m.Output.Buffer); Offset(m.Output.Buffer); Sym(m.Output.Size);
                Scalar(m.Value!);
                Call(typeof(JitHelpers).GetMethod(nameof(JitHelpers.Fill))!);
                break;
            case "copy":
                Array(m.Inputs[0].Buffer); Offset(m.Inputs[0].Buffer); Sym(m.Inputs[0].Size);
                Array(m.Output.Buffer); Offset(m.Output.Buffer); Sym(m.Output.Size);
                Call(typeof(JitHelpers).GetMethod(nameof(JitHelpers.Copy))!);
                break;
            case "transpose":
            {
                var inShape = m.Inputs[0].Shape;
                var src = Local(FRef);
                var dst = Local(FRef);
                DataRef(m.Inputs[0].Buffer, false); St(src);
                DataRef(m.Output.Buffer, false); St(dst);
                var o = Local(typeof(int));
                var rest = Local(typeof(int));
                var index = Local(typeof(int));
                var cond = IL.DefineLabel();
                var body = IL.DefineLabel();
                Ldc(0); St(o);
                IL.Emit(OpCodes.Br, cond);
                IL.MarkLabel(body);
                Ld(o); St(rest);
                Ldc(0); St(index);
                for (int a = outShape.Rank - 1; a >= 0; a--)
                {
                    var stride = SymSize.Product(inShape, m.Permutation[a] + 1, inShape.Rank);
                    var dim = SymSize.Dim(outShape[a]);
                    Ld(index);
                    Ld(rest);
                    if (a > 0) { Sym(dim); IL.Emit(OpCodes.Rem); }
                    Sym(stride); IL.Emit(OpCodes.Mul);
                    IL.Emit(OpCodes.Add);
                    St(index);
                    if (a > 0) { Ld(rest); Sym(dim); IL.Emit(OpCodes.Div); St(rest); }
                }
                Address(dst, () => Ld(o));
                Address(src, () => Ld(index));
                IL.Emit(OpCodes.Ldind_R4);
                IL.Emit(OpCodes.Stind_R4);
                Ld(o); Ldc(1); IL.Emit(OpCodes.Add); St(o);
                IL.MarkLabel(cond);
                Ld(o); Sym(m.Output.Size);
                IL.Emit(OpCodes.Blt, body);
                break;
            }
            case "concat":
            {
                var outer = SymSize.Product(outShape, 0, m.Axis);
                var inner = SymSize.Product(outShape, m.Axis + 1, outShape.Rank);
                var o = Local(typeof(int));
                var w = Local(typeof(int));
                var cond = IL.DefineLabel();
                var body = IL.DefineLabel();
                Ldc(0); St(o);
                Ldc(0); St(w);
                IL.Emit(OpCodes.Br, cond);
                IL.MarkLabel(body);
                foreach (var input in m.Inputs)
                {
                    var block = (SymSize.Const(input.Shape[m.Axis]) * inner);
                    Array(input.Buffer); Offset(input.Buffer); Ld(o); Sym(block); IL.Emit(OpCodes.Mul); IL.Emit(OpCodes.Add);
                    Array(m.Output.Buffer); Offset(m.Output.Buffer); Ld(w); IL.Emit(OpCodes.Add);
                    Sym(block);
                    Call(typeof(JitHelpers).GetMethod(nameof(JitHelpers.CopyBlock))!);
                    Ld(w); Sym(block); IL.Emit(OpCodes.Add); St(w);
                }
                Ld(o); Ldc(1); IL.Emit(OpCodes.Add); St(o);
                IL.MarkLabel(cond);
                Ld(o); Sym(outer);
                IL.Emit(OpCodes.Blt, body);
                break;
            }
            case "slice":
            {
                var inShape = m.Inputs[0].Shape;
                var outer = SymSize.Product(outShape, 0, m.Axis);
                var inner = SymSize.Product(outShape, m.Axis + 1, outShape.Rank);
                var inBlock = (SymSize.Const(inShape[m.Axis]) * inner);
                var outBlock = (SymSize.Const(outShape[m.Axis]) * inner);
                var start = (SymSize.Const(m.Start) * inner);
                var o = Local(typeof(int));
                var cond = IL.DefineLabel();
                var body = IL.DefineLabel();
                Ldc(0); St(o);
                IL.Emit(OpCodes.Br, cond);
                IL.MarkLabel(body);
                Array(m.Inputs[0].Buffer); Offset(m.Inputs[0].Buffer); Ld(o); Sym(inBlock); IL.Emit(OpCodes.Mul); IL.Emit(OpCodes.Add); Sym(start); IL.Emit(OpCodes.Add);
                Array(m.Output.Buffer); Offset(m.Output.Buffer); Ld(o); Sym(outBlock); IL.Emit(OpCodes.Mul); IL.Emit(OpCodes.Add);
                Sym(outBlock);
                Call(typeof(JitHelpers).GetMethod(nameof(JitHelpers.CopyBlock))!);
                Ld(o); Ldc(1); IL.Emit(OpCodes.Add); St(o);
                IL.MarkLabel(cond);
                Ld(o); Sym(outer);
                IL.Emit(OpCodes.Blt, body);
                break;
            }
            default: throw new NotSupportedException($"The IL emitter has no form for the move kernel '{m.Kind}'.");
        }
    }
}
