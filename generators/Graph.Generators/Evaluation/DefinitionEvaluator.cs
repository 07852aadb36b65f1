using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Threading;
using Graph.Generators.Model;
using Graph.Ir;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace Graph.Generators.Evaluation;

/// <summary>
/// Interprets a model definition's <see cref="IOperation"/> tree at build time. It supports a small,
/// deterministic subset of C# (locals, literals, constants, arithmetic, strings, arrays, loops with
/// build-time bounds, if/ternary, static helper methods of the same compilation) and calls the Graph
/// API by reflection on the generator's own copy of it. Anything else stops evaluation with a
/// diagnostic at the construct; a shape error is reported at the user's call that built the op.
/// </summary>
internal sealed class DefinitionEvaluator
{
    /// <summary>Iterations one loop may run.</summary>
    public const int MaxLoopIterations = 10_000;

    /// <summary>Iterations all loops of one evaluation may run together (nested loops multiply).</summary>
    public const int MaxTotalIterations = 100_000;

    /// <summary>How deeply helper calls may nest.</summary>
    public const int MaxCallDepth = 32;

    private readonly Compilation _compilation;
    private readonly CancellationToken _cancellationToken;
    private readonly Dictionary<SyntaxTree, SemanticModel> _semanticModels = new();
    private readonly Dictionary<IMethodSymbol, IOperation> _bodies = new(SymbolEqualityComparer.Default);
    private readonly Dictionary<ISymbol, object?> _staticValues = new(SymbolEqualityComparer.Default);
    private readonly Stack<LocationInfo> _callSites = new();
    private int _totalIterations;

    public DefinitionEvaluator(Compilation compilation, CancellationToken cancellationToken)
    {
        _compilation = compilation;
        _cancellationToken = cancellationToken;
    }

    /// <summary>
    /// Runs <paramref name="definition"/> with <paramref name="builder"/> as its argument. Throws
    /// <see cref="EvaluationException"/> for user errors and <see cref="CompileErrorsException"/> when the
    /// code does not compile; any other exception is a bug in the generator.
    /// </summary>
    public void Run(IMethodSymbol definition, object builder)
    {
        var body = Body(definition);
        var frame = new Frame(parent: null);
        frame.Set(definition.Parameters[0], builder);
        Execute(body, frame);
    }

    // ----- statements ------------------------------------------------------------------------

    private enum Completion { Normal, Break, Continue, Return }

    private sealed class Frame
    {
        private readonly Dictionary<ISymbol, object?> _values = new(SymbolEqualityComparer.Default);
        private readonly Frame? _parent;

        // Local functions see their enclosing method's locals: their frame chains to the caller's.
        public Frame(Frame? parent) => _parent = parent;

        public object? ReturnValue { get; set; }

        public bool TryGet(ISymbol symbol, out object? value)
        {
            for (var frame = this; frame is not null; frame = frame._parent)
                if (frame._values.TryGetValue(symbol, out value)) return true;
            value = null;
            return false;
        }

        public void Set(ISymbol symbol, object? value)
        {
            for (var frame = this; frame is not null; frame = frame._parent)
            {
                if (frame._values.ContainsKey(symbol))
                {
                    frame._values[symbol] = value;
                    return;
                }
            }
            _values[symbol] = value;
        }

        public void Declare(ISymbol symbol, object? value) => _values[symbol] = value;
    }

    private Completion Execute(IOperation statement, Frame frame)
    {
        _cancellationToken.ThrowIfCancellationRequested();
        switch (statement)
        {
            case IMethodBodyOperation body:
                return Execute((IOperation?)body.BlockBody ?? body.ExpressionBody!, frame);
            case IBlockOperation block:
                foreach (var inner in block.Operations)
                {
                    var completion = Execute(inner, frame);
                    if (completion != Completion.Normal) return completion;
                }
                return Completion.Normal;
            case IVariableDeclarationGroupOperation group:
                foreach (var declaration in group.Declarations)
                {
                    foreach (var declarator in declaration.Declarators)
                    {
                        var initializer = declarator.Initializer ?? declaration.Initializer;
                        frame.Declare(declarator.Symbol, initializer is null ? null : Evaluate(initializer.Value, frame));
                    }
                }
                return Completion.Normal;
            case IExpressionStatementOperation expression:
                Evaluate(expression.Operation, frame);
                return Completion.Normal;
            case IThrowOperation:
                // A throw statement (not wrapped in an expression statement): reports GRAPH011.
                Evaluate(statement, frame);
                return Completion.Normal;
            case IConditionalOperation conditional:
                {
                    var branch = EvaluateBool(conditional.Condition, frame) ? conditional.WhenTrue : conditional.WhenFalse;
                    return branch is null ? Completion.Normal : Execute(branch, frame);
                }
            case IForLoopOperation forLoop:
                return ExecuteFor(forLoop, frame);
            case IForEachLoopOperation forEach:
                return ExecuteForEach(forEach, frame);
            case IWhileLoopOperation whileLoop:
                return ExecuteWhile(whileLoop, frame);
            case IBranchOperation { BranchKind: BranchKind.Break }:
                return Completion.Break;
            case IBranchOperation { BranchKind: BranchKind.Continue }:
                return Completion.Continue;
            case IReturnOperation { Kind: OperationKind.Return } ret:
                frame.ReturnValue = ret.ReturnedValue is null ? null : Evaluate(ret.ReturnedValue, frame);
                return Completion.Return;
            case ILocalFunctionOperation:
            case IEmptyOperation:
                // A local function's declaration does nothing until it is called.
                return Completion.Normal;
            case IInvalidOperation:
                throw new CompileErrorsException();
            default:
                throw Unsupported(statement, Describe(statement));
        }
    }

    private Completion ExecuteFor(IForLoopOperation loop, Frame frame)
    {
        foreach (var before in loop.Before) Execute(before, frame);
        int iterations = 0;
        while (loop.Condition is null || EvaluateBool(loop.Condition, frame))
        {
            CountIteration(loop, ref iterations);
            var completion = Execute(loop.Body, frame);
            if (completion == Completion.Break) break;
            if (completion == Completion.Return) return completion;
            foreach (var step in loop.AtLoopBottom) Execute(step, frame);
        }
        return Completion.Normal;
    }

    private Completion ExecuteForEach(IForEachLoopOperation loop, Frame frame)
    {
        if (loop.LoopControlVariable is not IVariableDeclaratorOperation variable)
            throw Unsupported(loop.LoopControlVariable, "deconstruction in foreach");
        var collection = Evaluate(loop.Collection, frame);
        if (collection is not IEnumerable items)
            throw Unsupported(loop.Collection, "foreach over a value that is not an array or Enumerable.Range(...)");
        var elementType = variable.Symbol.Type;
        int iterations = 0;
        foreach (var item in items)
        {
            CountIteration(loop, ref iterations);
            frame.Declare(variable.Symbol, ConvertValue(item, elementType, isChecked: false, loop));
            var completion = Execute(loop.Body, frame);
            if (completion == Completion.Break) break;
            if (completion == Completion.Return) return completion;
        }
        return Completion.Normal;
    }

    private Completion ExecuteWhile(IWhileLoopOperation loop, Frame frame)
    {
        int iterations = 0;
        bool Continue() => loop.Condition is null || EvaluateBool(loop.Condition, frame) != loop.ConditionIsUntil;
        if (loop.ConditionIsTop && !Continue()) return Completion.Normal;
        while (true)
        {
            CountIteration(loop, ref iterations);
            var completion = Execute(loop.Body, frame);
            if (completion == Completion.Break) break;
            if (completion == Completion.Return) return completion;
            if (!Continue()) break;
        }
        return Completion.Normal;
    }

    private void CountIteration(IOperation loop, ref int iterations)
    {
        _cancellationToken.ThrowIfCancellationRequested();
        if (++iterations > MaxLoopIterations)
            throw Error(DiagnosticDescriptors.LoopLimitExceeded, loop, MaxLoopIterations.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (++_totalIterations > MaxTotalIterations)
            throw Error(DiagnosticDescriptors.LoopLimitExceeded, loop, MaxTotalIterations.ToString(System.Globalization.CultureInfo.InvariantCulture) + " (all loops together)");
    }

    // ----- expressions -----------------------------------------------------------------------

    private bool EvaluateBool(IOperation operation, Frame frame) =>
        Evaluate(operation, frame) is bool b ? b : throw Unsupported(operation, "a condition that is not a bool");

    private object? Evaluate(IOperation operation, Frame frame)
    {
        // Literals, consts, nameof, folded conversions and caller-info arguments all arrive here.
        if (operation.ConstantValue.HasValue)
            return FromConstant(operation.ConstantValue.Value, operation.Type, operation);

        switch (operation)
        {
            case ILocalReferenceOperation local:
                return frame.TryGet(local.Local, out var localValue) ? localValue : throw Unsupported(operation, $"local '{local.Local.Name}' captured from outside the method");
            case IParameterReferenceOperation parameter:
                return frame.TryGet(parameter.Parameter, out var parameterValue) ? parameterValue : throw Unsupported(operation, $"parameter '{parameter.Parameter.Name}' captured from outside the method");
            case IConversionOperation conversion:
                return EvaluateConversion(conversion, frame);
            case IBinaryOperation binary:
                return EvaluateBinary(binary, frame);
            case IUnaryOperation unary:
                return EvaluateUnary(unary, frame);
            case IInvocationOperation invocation:
                return EvaluateInvocation(invocation, frame);
            case IObjectCreationOperation creation:
                return EvaluateObjectCreation(creation, frame);
            case IPropertyReferenceOperation property:
                return EvaluateProperty(property, frame);
            case IFieldReferenceOperation field:
                return EvaluateField(field, frame);
            case IArrayCreationOperation arrayCreation:
                return EvaluateArrayCreation(arrayCreation, frame);
            case ICollectionExpressionOperation collection:
                return EvaluateCollectionExpression(collection, frame);
            case IArrayElementReferenceOperation element:
                {
                    var (array, indices) = ArrayAndIndices(element, frame);
                    return array.GetValue(indices);
                }
            case ISimpleAssignmentOperation assignment:
                {
                    var value = Evaluate(assignment.Value, frame);
                    Assign(assignment.Target, value, frame);
                    return value;
                }
            case ICompoundAssignmentOperation compound:
                return EvaluateCompoundAssignment(compound, frame);
            case IIncrementOrDecrementOperation increment:
                {
                    var old = Evaluate(increment.Target, frame);
                    var updated = Guard(increment, () => CSharpArithmetic.Step(old!, increment.Kind == OperationKind.Increment, increment.IsChecked));
                    Assign(increment.Target, updated, frame);
                    return increment.IsPostfix ? old : updated;
                }
            case IConditionalOperation ternary:
                return EvaluateBool(ternary.Condition, frame) ? Evaluate(ternary.WhenTrue, frame) : Evaluate(ternary.WhenFalse!, frame);
            case ICoalesceOperation coalesce:
                return Evaluate(coalesce.Value, frame) ?? Evaluate(coalesce.WhenNull, frame);
            case IInterpolatedStringOperation interpolated:
                return EvaluateInterpolatedString(interpolated, frame);
            case IDefaultValueOperation defaultValue:
                return DefaultOf(defaultValue.Type, operation);
            case IThrowOperation thrown:
                throw Error(DiagnosticDescriptors.DefinitionThrows, operation,
                    ((thrown.Exception as IConversionOperation)?.Operand ?? thrown.Exception)?.Type?.Name ?? "an exception", ThrownMessage(thrown.Exception, frame));
            case IInvalidOperation:
                throw new CompileErrorsException();
            default:
                throw Unsupported(operation, Describe(operation));
        }
    }

    private object? FromConstant(object? value, ITypeSymbol? type, IOperation operation)
    {
        // Enum constants arrive as their underlying integer.
        if (value is not null && type is { TypeKind: TypeKind.Enum })
            return Enum.ToObject(RequireRuntimeType(type, operation), value);
        return value;
    }

    private object? EvaluateConversion(IConversionOperation conversion, Frame frame)
    {
        var operand = Evaluate(conversion.Operand, frame);
        if (conversion.OperatorMethod is { } userDefined)
            return InvokeApi(userDefined, conversion, instance: null, new[] { operand });
        return ConvertValue(operand, conversion.Type!, conversion.IsChecked, conversion);
    }

    /// <summary>Built-in conversions: numeric (with C# truncation), enum, nullable wrapping, boxing and reference conversions.</summary>
    private object? ConvertValue(object? value, ITypeSymbol target, bool isChecked, IOperation at)
    {
        if (value is null) return null;
        if (target is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable)
            return ConvertValue(value, nullable.TypeArguments[0], isChecked, at);
        if (target.TypeKind == TypeKind.Enum)
        {
            var underlying = ((INamedTypeSymbol)target).EnumUnderlyingType!;
            var number = ConvertValue(value is Enum e ? EnumUnderlying(e) : value, underlying, isChecked, at);
            return Enum.ToObject(RequireRuntimeType(target, at), number!);
        }
        if (CSharpArithmetic.IsNumeric(target.SpecialType))
        {
            if (value is Enum e) value = EnumUnderlying(e);
            if (!CSharpArithmetic.IsNumericValue(value))
                throw Unsupported(at, $"conversion from {value.GetType().Name} to {target.ToDisplayString()}");
            return Guard(at, () => CSharpArithmetic.Convert(value, target.SpecialType, isChecked));
        }
        // Identity, boxing, reference and interface conversions leave the value as it is.
        if (target.SpecialType is SpecialType.System_Object or SpecialType.System_ValueType or SpecialType.System_Enum
            || target.TypeKind is TypeKind.Interface or TypeKind.Array || target.IsReferenceType)
            return value;
        var runtime = RuntimeType(target);
        if (runtime is not null && runtime.IsInstanceOfType(value)) return value;
        throw Unsupported(at, $"conversion from {value.GetType().Name} to {target.ToDisplayString()}");
    }

    private static object EnumUnderlying(Enum value) =>
        Convert.ChangeType(value, Enum.GetUnderlyingType(value.GetType()), System.Globalization.CultureInfo.InvariantCulture);

    private object? EvaluateBinary(IBinaryOperation binary, Frame frame)
    {
        if (binary.OperatorMethod is { } userDefined)
        {
            if (binary.OperatorKind is BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.ConditionalOr)
                throw Unsupported(binary, "a user-defined && or ||");
            var leftOperand = Evaluate(binary.LeftOperand, frame);
            var rightOperand = Evaluate(binary.RightOperand, frame);
            return InvokeApi(userDefined, binary, instance: null, new[] { leftOperand, rightOperand });
        }
        if (binary.OperatorKind == BinaryOperatorKind.ConditionalAnd)
            return EvaluateBool(binary.LeftOperand, frame) && EvaluateBool(binary.RightOperand, frame);
        if (binary.OperatorKind == BinaryOperatorKind.ConditionalOr)
            return EvaluateBool(binary.LeftOperand, frame) || EvaluateBool(binary.RightOperand, frame);

        var left = Evaluate(binary.LeftOperand, frame);
        var right = Evaluate(binary.RightOperand, frame);
        bool isString = binary.LeftOperand.Type?.SpecialType == SpecialType.System_String || binary.RightOperand.Type?.SpecialType == SpecialType.System_String;
        if (isString && binary.OperatorKind == BinaryOperatorKind.Add)
            return CSharpArithmetic.FormatInvariant(left) + CSharpArithmetic.FormatInvariant(right);
        if (binary.OperatorKind is BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals
            && (isString || left is null || right is null || !(left.GetType().IsPrimitive && right.GetType().IsPrimitive)))
        {
            // string ==, reference ==, enum ==, comparisons with null (lifted or not).
            bool equal = left is string || left is Enum ? Equals(left, right) : ReferenceEquals(left, right) || (left is not null && left.GetType().IsValueType && Equals(left, right));
            return binary.OperatorKind == BinaryOperatorKind.Equals ? equal : !equal;
        }
        if (left is null || right is null)
        {
            // A lifted operator with a null operand: arithmetic gives null, comparisons false.
            if (binary.IsLifted) return binary.Type?.SpecialType == SpecialType.System_Boolean ? false : null;
            throw Unsupported(binary, $"operator {CSharpArithmetic.OperatorText(binary.OperatorKind)} on null");
        }
        if (left is Enum || right is Enum)
            throw Unsupported(binary, $"operator {CSharpArithmetic.OperatorText(binary.OperatorKind)} on enum values");
        return Guard(binary, () => CSharpArithmetic.Binary(binary.OperatorKind, left, right, binary.IsChecked));
    }

    private object? EvaluateUnary(IUnaryOperation unary, Frame frame)
    {
        var operand = Evaluate(unary.Operand, frame);
        if (unary.OperatorMethod is { } userDefined)
            return InvokeApi(userDefined, unary, instance: null, new[] { operand });
        if (operand is null) return unary.IsLifted ? null : throw Unsupported(unary, "unary operator on null");
        return Guard(unary, () => CSharpArithmetic.Unary(unary.OperatorKind, operand, unary.IsChecked));
    }

    private object? EvaluateCompoundAssignment(ICompoundAssignmentOperation compound, Frame frame)
    {
        var current = Evaluate(compound.Target, frame);
        var operand = Evaluate(compound.Value, frame);
        object? result;
        if (compound.OperatorMethod is { } userDefined)
        {
            result = InvokeApi(userDefined, compound, instance: null, new[] { current, operand });
        }
        else if (compound.Target.Type?.SpecialType == SpecialType.System_String && compound.OperatorKind == BinaryOperatorKind.Add)
        {
            result = CSharpArithmetic.FormatInvariant(current) + CSharpArithmetic.FormatInvariant(operand);
        }
        else
        {
            // x op= y means x = (T)(x op y), with x and y promoted to a common type first.
            if (current is null || operand is null) throw Unsupported(compound, "compound assignment with null");
            var common = Promote(current, operand);
            var promotedLeft = Guard(compound, () => common is null ? current : CSharpArithmetic.Convert(current, common.Value, false));
            var promotedRight = compound.OperatorKind is BinaryOperatorKind.LeftShift or BinaryOperatorKind.RightShift ? operand
                : Guard(compound, () => common is null ? operand : CSharpArithmetic.Convert(operand, common.Value, false));
            var raw = Guard(compound, () => CSharpArithmetic.Binary(compound.OperatorKind, promotedLeft, promotedRight, compound.IsChecked));
            result = ConvertValue(raw, compound.Target.Type!, compound.IsChecked, compound);
        }
        Assign(compound.Target, result, frame);
        return result;
    }

    // C#'s binary numeric promotion, for compound assignments (where the compiler shows no conversions).
    private static SpecialType? Promote(object left, object right)
    {
        if (left is bool && right is bool) return null;
        if (left is double || right is double) return SpecialType.System_Double;
        if (left is float || right is float) return SpecialType.System_Single;
        if (left is ulong || right is ulong) return SpecialType.System_UInt64;
        if (left is long || right is long || left is uint || right is uint) return SpecialType.System_Int64;
        return SpecialType.System_Int32;
    }

    private string EvaluateInterpolatedString(IInterpolatedStringOperation interpolated, Frame frame)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var part in interpolated.Parts)
        {
            switch (part)
            {
                case IInterpolatedStringTextOperation text:
                    sb.Append(text.Text.ConstantValue.Value as string);
                    break;
                case IInterpolationOperation hole:
                    {
                        var value = Evaluate(hole.Expression, frame);
                        var format = hole.FormatString is null ? null : Evaluate(hole.FormatString, frame) as string;
                        var formatted = CSharpArithmetic.FormatInvariant(value, format);
                        if (hole.Alignment is not null && Evaluate(hole.Alignment, frame) is int alignment)
                            formatted = alignment < 0 ? formatted.PadRight(-alignment) : formatted.PadLeft(alignment);
                        sb.Append(formatted);
                        break;
                    }
                default:
                    throw Unsupported(part, Describe(part));
            }
        }
        return sb.ToString();
    }

    // ----- arrays ------------------------------------------------------------------------------

    private Array EvaluateArrayCreation(IArrayCreationOperation creation, Frame frame)
    {
        var arrayType = (IArrayTypeSymbol)creation.Type!;
        if (arrayType.Rank != 1) throw Unsupported(creation, "multi-dimensional arrays");
        var elementType = RequireRuntimeType(arrayType.ElementType, creation);
        if (creation.Initializer is { } initializer)
        {
            var array = Array.CreateInstance(elementType, initializer.ElementValues.Length);
            for (int i = 0; i < array.Length; i++)
                array.SetValue(Evaluate(initializer.ElementValues[i], frame), i);
            return array;
        }
        var length = Evaluate(creation.DimensionSizes[0], frame);
        int size = Convert.ToInt32(length, System.Globalization.CultureInfo.InvariantCulture);
        if (size < 0 || size > MaxLoopIterations) throw Error(DiagnosticDescriptors.DefinitionThrows, creation, "OverflowException", $"an array of {size} elements is not allowed at build time");
        return Array.CreateInstance(elementType, size);
    }

    private Array EvaluateCollectionExpression(ICollectionExpressionOperation collection, Frame frame)
    {
        if (collection.Type is not IArrayTypeSymbol { Rank: 1 } arrayType)
            throw Unsupported(collection, $"a collection expression of type {collection.Type?.ToDisplayString()} (only arrays are supported)");
        var elementType = RequireRuntimeType(arrayType.ElementType, collection);
        var values = new List<object?>();
        foreach (var element in collection.Elements)
        {
            if (element is ISpreadOperation) throw Unsupported(element, "a spread element (..) in a collection expression");
            values.Add(Evaluate(element, frame));
        }
        var array = Array.CreateInstance(elementType, values.Count);
        for (int i = 0; i < values.Count; i++) array.SetValue(values[i], i);
        return array;
    }

    private (Array Array, int[] Indices) ArrayAndIndices(IArrayElementReferenceOperation element, Frame frame)
    {
        if (Evaluate(element.ArrayReference, frame) is not Array array)
            throw Error(DiagnosticDescriptors.DefinitionThrows, element, "NullReferenceException", "the array is null");
        var indices = element.Indices.Select(i => Evaluate(i, frame) is int index ? index : throw Unsupported(i, "an array index that is not an int")).ToArray();
        if (indices.Length != 1) throw Unsupported(element, "multi-dimensional arrays");
        if (indices[0] < 0 || indices[0] >= array.Length)
            throw Error(DiagnosticDescriptors.DefinitionThrows, element, "IndexOutOfRangeException", $"index {indices[0]} is outside an array of length {array.Length}");
        return (array, indices);
    }

    private void Assign(IOperation target, object? value, Frame frame)
    {
        switch (target)
        {
            case ILocalReferenceOperation local:
                frame.Set(local.Local, value);
                break;
            case IParameterReferenceOperation parameter:
                frame.Set(parameter.Parameter, value);
                break;
            case IArrayElementReferenceOperation element:
                {
                    var (array, indices) = ArrayAndIndices(element, frame);
                    array.SetValue(value, indices);
                    break;
                }
            case IDiscardOperation:
                break;
            default:
                throw Unsupported(target, $"assignment to {Describe(target)}");
        }
    }

    // ----- members and calls ------------------------------------------------------------------

    private object? EvaluateInvocation(IInvocationOperation invocation, Frame frame)
    {
        var method = invocation.TargetMethod;
        if (invocation.Arguments.Any(a => a.Parameter?.RefKind is not null and not RefKind.None))
            throw Unsupported(invocation, $"ref/out/in arguments in the call to '{method.Name}'");

        if (ApiBinder.IsGraphApi(method.ContainingType) || ApiBinder.IsAllowedBclType(method.ContainingType))
        {
            var instance = invocation.Instance is null ? null : Evaluate(invocation.Instance, frame);
            var arguments = EvaluateArguments(method, invocation.Arguments, frame);
            if (!method.IsStatic && instance is null)
                throw Error(DiagnosticDescriptors.DefinitionThrows, invocation, "NullReferenceException", $"'{method.Name}' is called on null");
            return InvokeApi(method, invocation, instance, arguments);
        }
        if (method.Name == "ToString" && invocation.Instance is not null && invocation.Arguments.Length <= 1
            && (CSharpArithmetic.IsNumeric(invocation.Instance.Type?.SpecialType ?? SpecialType.None) || invocation.Instance.Type?.SpecialType == SpecialType.System_Boolean))
        {
            // Numbers format with the invariant culture at build time (their run-time text would depend on the machine).
            var value = Evaluate(invocation.Instance, frame);
            var format = invocation.Arguments.Length == 1 ? Evaluate(invocation.Arguments[0].Value, frame) as string : null;
            return CSharpArithmetic.FormatInvariant(value, format);
        }
        if (method.ContainingType?.ToDisplayString() == "System.Linq.Enumerable" && method.Name == "Range" && invocation.Arguments.Length == 2)
        {
            var args = EvaluateArguments(method, invocation.Arguments, frame);
            int start = (int)args[0]!, count = (int)args[1]!;
            if (count < 0) throw Error(DiagnosticDescriptors.DefinitionThrows, invocation, "ArgumentOutOfRangeException", "count is negative");
            if (count > MaxLoopIterations) throw Error(DiagnosticDescriptors.LoopLimitExceeded, invocation, MaxLoopIterations.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return Enumerable.Range(start, count).ToArray();
        }
        if (IsUserHelper(method))
        {
            var arguments = EvaluateArguments(method, invocation.Arguments, frame);
            return CallHelper(method, invocation, arguments, frame);
        }
        throw Unsupported(invocation, $"call to '{method.ToDisplayString()}' (only the Graph API, System.Math and static methods of this project can be called)");
    }

    private object?[] EvaluateArguments(IMethodSymbol method, IEnumerable<IArgumentOperation> arguments, Frame frame)
    {
        // Arguments come in source (evaluation) order, each tagged with its parameter: evaluate in this
        // order (builder calls create nodes) and place by ordinal. Omitted optional, params and
        // caller-info arguments appear as implicit arguments whose values the compiler filled in.
        var values = new object?[method.Parameters.Length];
        foreach (var argument in arguments)
        {
            if (argument.Parameter is null) throw Unsupported(argument, "an argument without a parameter (__arglist)");
            values[argument.Parameter.Ordinal] = Evaluate(argument.Value, frame);
        }
        return values;
    }

    private bool IsInThisCompilation(ISymbol symbol) => SymbolEqualityComparer.Default.Equals(symbol.ContainingAssembly, _compilation.Assembly);

    private static bool HasBody(IMethodSymbol method) =>
        method.DeclaringSyntaxReferences.Any(r => r.GetSyntax() is AccessorDeclarationSyntax { Body: not null } or AccessorDeclarationSyntax { ExpressionBody: not null } or ArrowExpressionClauseSyntax);

    /// <summary>
    /// The value of a static readonly field or get-only auto-property of the user's code: its initializer,
    /// evaluated once per evaluation (as the type initializer runs once at run time).
    /// </summary>
    private object? StaticInitializerValue(ISymbol member, IOperation at)
    {
        if (_staticValues.TryGetValue(member, out var cached)) return cached;
        var initializer = member.DeclaringSyntaxReferences.Select(r => r.GetSyntax(_cancellationToken)).Select(s => s switch
        {
            VariableDeclaratorSyntax declarator => (SyntaxNode?)declarator.Initializer,
            PropertyDeclarationSyntax property => property.Initializer,
            _ => null,
        }).FirstOrDefault(i => i is not null);
        if (initializer is null)
            throw Unsupported(at, $"'{member.ToDisplayString()}' (a static readonly field or get-only property can be read only when it has an initializer)");
        var model = SemanticModelFor(initializer.SyntaxTree);
        if (model.GetDiagnostics(initializer.Span, _cancellationToken).Any(d => d.Severity == DiagnosticSeverity.Error))
            throw new CompileErrorsException();
        var operation = model.GetOperation(initializer, _cancellationToken) switch
        {
            ISymbolInitializerOperation symbolInitializer => symbolInitializer.Value,
            _ => throw new InvalidOperationException($"No initializer operation for '{member.Name}'."),
        };
        var value = Evaluate(operation, new Frame(parent: null));
        _staticValues[member] = value;
        return value;
    }

    private bool IsUserHelper(IMethodSymbol method) =>
        IsInThisCompilation(method) && method.MethodKind is MethodKind.Ordinary or MethodKind.LocalFunction;

    private object? CallHelper(IMethodSymbol method, IOperation invocation, object?[] arguments, Frame callerFrame)
    {
        if (!method.IsStatic && method.MethodKind != MethodKind.LocalFunction)
            throw Unsupported(invocation, $"call to instance method '{method.Name}' (helpers must be static)");
        if (method.IsGenericMethod)
            throw Unsupported(invocation, $"call to generic method '{method.Name}'");
        if (_callSites.Count >= MaxCallDepth)
            throw Error(DiagnosticDescriptors.CallDepthExceeded, invocation, method.Name, MaxCallDepth.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var body = Body(method.PartialImplementationPart ?? method.OriginalDefinition);
        var frame = new Frame(method.MethodKind == MethodKind.LocalFunction ? callerFrame : null);
        for (int i = 0; i < method.Parameters.Length; i++) frame.Declare(method.Parameters[i], arguments[i]);
        _callSites.Push(LocationOf(invocation));
        try
        {
            Execute(body, frame);
        }
        finally
        {
            _callSites.Pop();
        }
        return frame.ReturnValue;
    }

    private object? EvaluateObjectCreation(IObjectCreationOperation creation, Frame frame)
    {
        if (creation.Constructor is not { } constructor || !ApiBinder.IsGraphApi(constructor.ContainingType))
            throw Unsupported(creation, $"creating a {creation.Type?.ToDisplayString() ?? "value"} (only Graph API types can be created)");
        if (creation.Initializer is not null)
            throw Unsupported(creation.Initializer, "an object initializer");
        var arguments = EvaluateArguments(constructor, creation.Arguments, frame);
        return InvokeApi(constructor, creation, instance: null, arguments);
    }

    private object? EvaluateProperty(IPropertyReferenceOperation reference, Frame frame)
    {
        var property = reference.Property;
        if (IsInThisCompilation(property) && property.IsStatic && property.Parameters.Length == 0 && property.GetMethod is { } getter)
        {
            // "static int Width => 64;" runs like a helper; "static int Width { get; } = 64;" like a readonly field.
            return HasBody(getter) ? CallHelper(getter, reference, Array.Empty<object?>(), frame) : StaticInitializerValue(property, reference);
        }
        var instance = reference.Instance is null ? null : Evaluate(reference.Instance, frame);
        if (property.Name == "Length" && property.ContainingType.SpecialType is SpecialType.System_Array or SpecialType.System_String)
            return instance is Array array ? array.Length : instance is string s ? s.Length
                : throw Error(DiagnosticDescriptors.DefinitionThrows, reference, "NullReferenceException", "'Length' of null");
        if (!ApiBinder.IsGraphApi(property.ContainingType))
            throw Unsupported(reference, $"property '{property.ToDisplayString()}'");
        if (!property.IsStatic && instance is null)
            throw Error(DiagnosticDescriptors.DefinitionThrows, reference, "NullReferenceException", $"'{property.Name}' of null");
        var info = ApiBinder.Property(property) ?? throw Error(DiagnosticDescriptors.ApiVersionMismatch, reference, property.ToDisplayString());
        if (info.GetMethod is null || !info.GetMethod.IsPublic) throw Unsupported(reference, $"property '{property.ToDisplayString()}' without a public getter");
        var indices = EvaluateArguments(property.GetMethod!, reference.Arguments, frame);
        return InvokeReflected(reference, property.ToDisplayString(), () => info.GetValue(instance, indices.Length == 0 ? null : indices));
    }

    private object? EvaluateField(IFieldReferenceOperation reference, Frame frame)
    {
        var field = reference.Field;
        if (IsInThisCompilation(field) && field.IsStatic && field.IsReadOnly)
            return StaticInitializerValue(field, reference);
        if (!ApiBinder.IsGraphApi(field.ContainingType) || !field.IsStatic || !field.IsReadOnly)
            throw Unsupported(reference, $"field '{field.ToDisplayString()}' (only constants and static readonly fields can be read)");
        var info = ApiBinder.Field(field) ?? throw Error(DiagnosticDescriptors.ApiVersionMismatch, reference, field.ToDisplayString());
        return info.GetValue(null);
    }

    private object? InvokeApi(IMethodSymbol method, IOperation at, object? instance, object?[] arguments)
    {
        if (!ApiBinder.IsGraphApi(method.ContainingType) && !ApiBinder.IsAllowedBclType(method.ContainingType))
            throw Unsupported(at, $"call to '{method.ToDisplayString()}'");
        var target = ApiBinder.Method(method) ?? throw Error(DiagnosticDescriptors.ApiVersionMismatch, at, method.ToDisplayString());
        return target is ConstructorInfo constructor
            ? InvokeReflected(at, method.ToDisplayString(), () => constructor.Invoke(arguments))
            : InvokeReflected(at, method.ToDisplayString(), () => target.Invoke(instance, arguments));
    }

    /// <summary>Runs a reflected Graph API member, turning what it throws into the user's diagnostic at <paramref name="at"/>.</summary>
    private object? InvokeReflected(IOperation at, string member, Func<object?> call)
    {
        try
        {
            return call();
        }
        catch (TargetInvocationException e) when (e.InnerException is ShapeException shape)
        {
            throw Error(DiagnosticDescriptors.ShapeError, at, shape.Message);
        }
        catch (TargetInvocationException e) when (e.InnerException is ArgumentException or InvalidOperationException or ArithmeticException or IndexOutOfRangeException or NullReferenceException or KeyNotFoundException or NotSupportedException)
        {
            // The user's definition would throw the same at run time: a user error, not a generator bug.
            throw Error(DiagnosticDescriptors.DefinitionThrows, at, e.InnerException.GetType().Name, e.InnerException.Message);
        }
        catch (ArgumentException e)
        {
            // Reflection rejected the arguments: the evaluator produced a value of the wrong type (a generator bug).
            throw new InvalidOperationException($"Calling '{member}' by reflection failed: {e.Message}", e);
        }
    }

    // ----- plumbing ---------------------------------------------------------------------------

    private IOperation Body(IMethodSymbol method)
    {
        if (_bodies.TryGetValue(method, out var cached)) return cached;
        var syntax = method.DeclaringSyntaxReferences
            .Select(r => r.GetSyntax(_cancellationToken))
            .FirstOrDefault(s => s is MethodDeclarationSyntax { Body: not null } or MethodDeclarationSyntax { ExpressionBody: not null }
                or LocalFunctionStatementSyntax or AccessorDeclarationSyntax or ArrowExpressionClauseSyntax);
        if (syntax is null) throw new InvalidOperationException($"'{method.Name}' has no body in source.");
        var model = SemanticModelFor(syntax.SyntaxTree);
        if (model.GetDiagnostics(syntax.Span, _cancellationToken).Any(d => d.Severity == DiagnosticSeverity.Error))
            throw new CompileErrorsException();
        IOperation? body = model.GetOperation(syntax, _cancellationToken) switch
        {
            IMethodBodyOperation methodBody => methodBody,
            ILocalFunctionOperation localFunction => localFunction.Body,
            IBlockOperation block => block,  // a property's "=> expression"
            _ => null,
        };
        if (body is null) throw new InvalidOperationException($"No operation tree for '{method.Name}'.");
        _bodies[method] = body;
        return body;
    }

    private SemanticModel SemanticModelFor(SyntaxTree tree)
    {
        if (!_semanticModels.TryGetValue(tree, out var model))
            _semanticModels[tree] = model = _compilation.GetSemanticModel(tree);
        return model;
    }

    private static Type? RuntimeType(ITypeSymbol type) => ApiBinder.RuntimeType(type);

    private Type RequireRuntimeType(ITypeSymbol type, IOperation at) =>
        RuntimeType(type) ?? throw Unsupported(at, $"values of type '{type.ToDisplayString()}'");

    private object? DefaultOf(ITypeSymbol? type, IOperation at)
    {
        if (type is null || type.IsReferenceType || type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T })
            return null;
        return Activator.CreateInstance(RequireRuntimeType(type, at));
    }

    private string ThrownMessage(IOperation? exception, Frame frame)
    {
        // "throw new XException("message")": show the message when it is a plain string.
        if (exception is IConversionOperation conversion) exception = conversion.Operand;
        if (exception is IObjectCreationOperation { Arguments.Length: > 0 } creation
            && creation.Arguments[0].Value.Type?.SpecialType == SpecialType.System_String)
        {
            try { return Evaluate(creation.Arguments[0].Value, frame) as string ?? ""; }
            catch (EvaluationException) { return "(message not known at build time)"; }
        }
        return "(no message)";
    }

    /// <summary>Runs built-in arithmetic, turning what C# would throw into the user's diagnostic and what it cannot do into GRAPH003.</summary>
    private T Guard<T>(IOperation at, Func<T> compute)
    {
        try
        {
            return compute();
        }
        catch (ArithmeticException e)
        {
            throw Error(DiagnosticDescriptors.DefinitionThrows, at, e.GetType().Name, e.Message);
        }
        catch (NotSupportedException e)
        {
            throw Unsupported(at, e.Message);
        }
    }

    private EvaluationException Unsupported(IOperation at, string construct) =>
        Error(DiagnosticDescriptors.UnsupportedConstruct, at, construct);

    private EvaluationException Error(DiagnosticDescriptor descriptor, IOperation at, params string[] args) =>
        new(DiagnosticInfo.Create(descriptor, LocationOf(at), _callSites.ToArray(), args));

    /// <summary>
    /// Where to report a problem with <paramref name="operation"/>: for a call "a.B(...)" the span from B
    /// to the closing parenthesis (so a fluent chain points at the failing link); for a loop its keyword.
    /// </summary>
    internal static LocationInfo LocationOf(IOperation operation)
    {
        var syntax = operation.Syntax;
        var tree = syntax.SyntaxTree;
        Microsoft.CodeAnalysis.Text.TextSpan span = syntax switch
        {
            InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax access } invocation =>
                Microsoft.CodeAnalysis.Text.TextSpan.FromBounds(access.Name.SpanStart, invocation.Span.End),
            ForStatementSyntax f => f.ForKeyword.Span,
            ForEachStatementSyntax f => f.ForEachKeyword.Span,
            WhileStatementSyntax w => w.WhileKeyword.Span,
            DoStatementSyntax d => d.DoKeyword.Span,
            _ => syntax.Span,
        };
        return LocationInfo.From(Location.Create(tree, span))!;
    }

    /// <summary>A short name for an operation the evaluator does not support ("lambda", "switch statement", ...).</summary>
    private static string Describe(IOperation operation) => operation switch
    {
        IAnonymousFunctionOperation => "a lambda or anonymous method",
        IDelegateCreationOperation { Target: IAnonymousFunctionOperation } => "a lambda or anonymous method",
        IDelegateCreationOperation => "a method group used as a delegate",
        ISwitchOperation => "a switch statement",
        ISwitchExpressionOperation => "a switch expression",
        IIsPatternOperation or IIsTypeOperation => "a type or pattern test",
        ITryOperation => "try/catch/finally",
        IUsingOperation or IUsingDeclarationOperation => "a using statement",
        ILockOperation => "a lock statement",
        IAwaitOperation => "await",
        IConditionalAccessOperation => "the ?. operator",
        ITupleOperation => "a tuple",
        IDeconstructionAssignmentOperation => "a deconstruction",
        IBranchOperation branch => "'" + branch.BranchKind.ToString().ToLowerInvariant() + "'",
        IReturnOperation { Kind: OperationKind.YieldReturn or OperationKind.YieldBreak } => "an iterator (yield)",
        IFieldReferenceOperation field => "field '" + field.Field.ToDisplayString() + "'",
        IInstanceReferenceOperation => "'this'",
        IAnonymousObjectCreationOperation => "an anonymous object",
        _ => "a " + SplitWords(operation.Kind.ToString()) + " (" + operation.Syntax.ToString().Split('\n')[0].Trim() + ")",
    };

    private static string SplitWords(string pascal)
    {
        var sb = new System.Text.StringBuilder();
        foreach (char c in pascal)
        {
            if (char.IsUpper(c) && sb.Length > 0) sb.Append(' ');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }
}
