using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using Graph.Interpretation;
using Graph.Ir;
using Graph.Ops;

namespace Graph.Builder;

/// <summary>
/// Builds a model's graph: inputs, labels, parameters, state, the prediction and the loss.
/// The same code runs at build time inside the source generator and at run time for the JIT,
/// so it holds nothing that cannot be evaluated at compile time (no delegates, no I/O).
/// </summary>
/// <example>
/// <code>
/// var m = new ModelBuilder("mlp");
/// var x = m.Input("x", 784);
/// var y = m.Labels("y", classes: 10);
/// var logits = x.Dense(128, "fc1").Relu().Dense(10, "fc2");
/// m.Output(logits);
/// m.Loss(logits.SoftmaxCrossEntropy(y));
/// </code>
/// </example>
public sealed class ModelBuilder
{
    private readonly Dictionary<string, int> _autoNames = new(StringComparer.Ordinal);
    private SourceLocation? _locationOverride;
    private int _randomStreams;

    /// <summary>Starts an empty model.</summary>
    public ModelBuilder(string name = "model") => Graph = new ComputeGraph(name);

    /// <summary>The graph being built.</summary>
    public ComputeGraph Graph { get; }

    /// <summary>The prediction, once <see cref="Output"/> was called.</summary>
    public Tensor? Prediction { get; private set; }

    /// <summary>The loss, once <see cref="Loss"/> was called.</summary>
    public Tensor? LossValue { get; private set; }

    // ----- leaves -------------------------------------------------------------------------

    /// <summary>A float32 feature input of shape [N, ...<paramref name="shape"/>] (N is the batch).</summary>
    public Tensor Input(string name, int[] shape, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Leaf(new InputOp(name, new TensorType(DType.Float32, BatchShape(shape)), InputRole.Feature), file, line);

    /// <summary>A float32 feature input of shape [N, <paramref name="features"/>].</summary>
    public Tensor Input(string name, int features, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Input(name, new[] { features }, file, line);

    /// <summary>An image input of shape [N, channels, height, width].</summary>
    public Tensor Input(string name, int channels, int height, int width, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Input(name, new[] { channels, height, width }, file, line);

    /// <summary>Integer class labels of shape [N], each in [0, <paramref name="classes"/>).</summary>
    public Tensor Labels(string name, int classes, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var t = Leaf(new InputOp(name, new TensorType(DType.Int32, new Shape(Shape.Batch)), InputRole.Label), file, line);
        t.Classes = classes;
        return t;
    }

    /// <summary>Float32 targets of shape [N, ...<paramref name="shape"/>] (regression, one-hot, probabilities).</summary>
    public Tensor Targets(string name, int[] shape, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Leaf(new InputOp(name, new TensorType(DType.Float32, BatchShape(shape)), InputRole.Label), file, line);

    /// <summary>Float32 targets of shape [N, <paramref name="features"/>].</summary>
    public Tensor Targets(string name, int features, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Targets(name, new[] { features }, file, line);

    /// <summary>A trainable parameter of a fixed shape (no batch dimension).</summary>
    public Tensor Parameter(string name, int[] shape, Initializer init, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (shape.Contains(Shape.Batch)) throw new ArgumentException($"Parameter '{name}' cannot have a batch dimension.");
        return Leaf(new ParameterOp(name, new TensorType(DType.Float32, new Shape(shape)), init), file, line);
    }

    /// <summary>Non-trainable state updated by training steps (running statistics).</summary>
    public Tensor State(string name, int[] shape, Initializer init, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Leaf(new StateOp(name, new TensorType(DType.Float32, new Shape(shape)), init), file, line);

    /// <summary>A scalar constant.</summary>
    public Tensor Constant(double value, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Apply(new ConstantOp(TensorValue.Scalar(value)), Array.Empty<Tensor>(), null, file, line);

    /// <summary>A constant tensor (row-major <paramref name="values"/>).</summary>
    public Tensor Constant(double[] values, int[] shape, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Apply(new ConstantOp(new TensorValue((int[])shape.Clone(), (double[])values.Clone())), Array.Empty<Tensor>(), null, file, line);

    /// <summary>Zeros of <paramref name="shape"/> (which may include the batch).</summary>
    public Tensor Zeros(Shape shape, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        shape.Rank == 0 ? Constant(0.0, file, line) : Constant(0.0, file, line).BroadcastTo(shape, file, line);

    // ----- outputs ------------------------------------------------------------------------

    /// <summary>Declares the model's prediction (what inference returns).</summary>
    public void Output(Tensor prediction, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        Own(prediction, "Output", file, line);
        Prediction = prediction;
        Graph.SetOutput(new GraphOutput("output", prediction.Node, OutputRole.Prediction));
    }

    /// <summary>Declares the scalar training loss.</summary>
    public void Loss(Tensor loss, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        Own(loss, "Loss", file, line);
        if (loss.Shape.Rank != 0)
            throw new ShapeException($"the loss must be a scalar, got {loss.Type}; reduce it with Mean() or Sum()", "loss", loss.Type.ToString(), Location(file, line));
        LossValue = loss;
        Graph.SetOutput(new GraphOutput("loss", loss.Node, OutputRole.Loss));
    }

    /// <summary>Declares an extra named output (for inspection).</summary>
    public void Auxiliary(string name, Tensor value) => Graph.SetOutput(new GraphOutput(name, value.Node, OutputRole.Auxiliary));

    /// <summary>Records that a training step sets state <paramref name="state"/> to <paramref name="newValue"/>.</summary>
    public void UpdateState(Tensor state, Tensor newValue)
    {
        if (state.Node.Op is not StateOp op) throw new ArgumentException($"{state.Node.Ref} is not a state tensor.");
        if (!state.Type.Equals(newValue.Type))
            throw new ShapeException($"new value {newValue.Type} does not match state {state.Type}", "update_state", op.LeafName, newValue.Node.Location);
        Graph.SetOutput(new GraphOutput("state:" + op.LeafName, newValue.Node, OutputRole.StateUpdate, op.LeafName));
    }

    // ----- differentiation ----------------------------------------------------------------

    /// <summary>
    /// Adds the backward pass to this graph: the gradients of scalar <paramref name="loss"/> with
    /// respect to each of <paramref name="wrt"/> (null where it does not depend on it).
    /// </summary>
    public Tensor?[] Grad(Tensor loss, params Tensor[] wrt) => Autodiff.ReverseMode.Grad(this, loss, wrt);

    /// <summary>Adds gradient outputs "grad:&lt;name&gt;" of the declared loss for every parameter.</summary>
    public void AddParameterGradients()
    {
        if (LossValue is null) throw new InvalidOperationException("Declare the loss with Loss(...) before asking for its gradients.");
        var parameters = Graph.Parameters.Select(Wrap).ToArray();
        var grads = Grad(LossValue, parameters);
        for (int i = 0; i < parameters.Length; i++)
        {
            var name = ((ParameterOp)parameters[i].Node.Op).LeafName;
            var grad = grads[i] ?? Zeros(parameters[i].Shape);
            Graph.SetOutput(new GraphOutput("grad:" + name, grad.Node, OutputRole.Gradient, name));
        }
    }

    // ----- plumbing used by Tensor, layers and VJP rules -----------------------------------

    /// <summary>The tensor handle of an existing node of this graph.</summary>
    public Tensor Wrap(Node node) => new(this, node);

    /// <summary>Adds a node applying <paramref name="op"/> to <paramref name="inputs"/>.</summary>
    public Tensor Apply(Op op, params Tensor[] inputs) => Apply(op, inputs, null, "", 0);

    /// <summary>Adds a node with a name and the caller's location.</summary>
    public Tensor Apply(Op op, Tensor[] inputs, string? name, string file, int line)
    {
        foreach (var input in inputs) Own(input, op.Name, file, line);
        return new Tensor(this, Graph.Add(op, inputs.Select(i => i.Node).ToArray(), name, Location(file, line)));
    }

    /// <summary>Chooses <paramref name="training"/> in training mode and <paramref name="evaluation"/> otherwise.</summary>
    public Tensor ModeSelect(Tensor training, Tensor evaluation) => Apply(new ModeSelectOp(), training, evaluation);

    /// <summary>A fresh name "prefix1", "prefix2", ... for unnamed layers (deterministic).</summary>
    public string AutoName(string prefix)
    {
        _autoNames.TryGetValue(prefix, out int count);
        _autoNames[prefix] = ++count;
        return prefix + count.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A new random stream id (one per dropout layer).</summary>
    public int NextRandomStream() => ++_randomStreams;

    /// <summary>While the returned scope lives, new nodes get <paramref name="location"/> (VJP rules use the forward node's).</summary>
    internal IDisposable AtLocation(SourceLocation location)
    {
        var previous = _locationOverride;
        _locationOverride = location;
        return new Restore(() => _locationOverride = previous);
    }

    internal SourceLocation Location(string file, int line) =>
        _locationOverride ?? (line > 0 ? new SourceLocation(file, line) : SourceLocation.None);

    private Tensor Leaf(LeafOp op, string file, int line) => Apply(op, Array.Empty<Tensor>(), null, file, line);

    private void Own(Tensor t, string what, string file, int line)
    {
        if (!ReferenceEquals(t.Builder, this))
            throw new ShapeException("operand belongs to another model", what, t.Type.ToString(), Location(file, line));
    }

    private static Shape BatchShape(int[] shape) => new(new[] { Shape.Batch }.Concat(shape).ToArray());

    private sealed class Restore : IDisposable
    {
        private Action? _action;
        public Restore(Action action) => _action = action;
        public void Dispose()
        {
            _action?.Invoke();
            _action = null;
        }
    }
}
