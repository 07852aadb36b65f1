using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Graph.Fuzz;

/// <summary>
/// One step of a generation recipe: a leaf (input, parameter) or an op applied to earlier values by id.
/// Ids are instruction indices, so a recipe is a little SSA program over the builder API.
/// </summary>
public sealed class Instr
{
    public Instr(string op, int[]? args = null, int[]? ints = null, double[]? reals = null, bool pos = false)
    {
        Op = op;
        Args = args ?? Array.Empty<int>();
        Ints = ints ?? Array.Empty<int>();
        Reals = reals ?? Array.Empty<double>();
        Pos = pos;
    }

    /// <summary>The catalog name ("input", "param", "add", "dense", "mse", ...).</summary>
    public string Op { get; }
    /// <summary>Operand value ids (earlier instructions).</summary>
    public int[] Args { get; }
    /// <summary>Integer attributes (leaf shapes without the batch, axes, units, kernel sizes, ...).</summary>
    public int[] Ints { get; }
    /// <summary>Real attributes (alpha, exponent, probability, ...).</summary>
    public double[] Reals { get; }
    /// <summary>For leaves: fed positive values in [0.5, 2].</summary>
    public bool Pos { get; }

    public bool IsLeaf => Op is "input" or "param";

    public Instr With(int[]? args = null, int[]? ints = null, double[]? reals = null) =>
        new(Op, args ?? Args, ints ?? Ints, reals ?? Reals, Pos);

    public override string ToString() => Format(-1);

    public string Format(int id)
    {
        var sb = new StringBuilder();
        if (id >= 0) sb.Append(id.ToString(CultureInfo.InvariantCulture)).Append(" = ");
        sb.Append(Op);
        if (Pos) sb.Append(" pos");
        foreach (int a in Args) sb.Append(' ').Append(a.ToString(CultureInfo.InvariantCulture));
        if (Ints.Length > 0) sb.Append(" ints=[").Append(string.Join(",", Ints.Select(i => i.ToString(CultureInfo.InvariantCulture)))).Append(']');
        if (Reals.Length > 0) sb.Append(" reals=[").Append(string.Join(",", Reals.Select(r => r.ToString("R", CultureInfo.InvariantCulture)))).Append(']');
        return sb.ToString();
    }
}

/// <summary>
/// A random graph as a replayable recipe: the batch size, the seed of the fed values and of dropout,
/// the instructions, which value is the prediction and which values the loss sums (weighted).
/// Its text form is what regression files hold.
/// </summary>
public sealed class Recipe
{
    public ulong Seed { get; set; }
    public int Batch { get; set; } = 2;
    public List<Instr> Instrs { get; set; } = new();
    /// <summary>The prediction's value id, or -1 for none.</summary>
    public int Output { get; set; } = -1;
    /// <summary>Value ids summed (with fixed random weights) into the scalar loss.</summary>
    public List<int> LossTerms { get; set; } = new();

    public Recipe Clone() => new()
    {
        Seed = Seed,
        Batch = Batch,
        Instrs = new List<Instr>(Instrs),
        Output = Output,
        LossTerms = new List<int>(LossTerms),
    };

    /// <summary>Number of non-leaf instructions.</summary>
    public int OpCount => Instrs.Count(i => !i.IsLeaf);

    public string Format()
    {
        var sb = new StringBuilder();
        sb.Append("seed ").Append(Seed.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append("batch ").Append(Batch.ToString(CultureInfo.InvariantCulture)).Append('\n');
        for (int i = 0; i < Instrs.Count; i++) sb.Append(Instrs[i].Format(i)).Append('\n');
        if (Output >= 0) sb.Append("output ").Append(Output.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append("loss").Append(string.Concat(LossTerms.Select(t => " " + t.ToString(CultureInfo.InvariantCulture)))).Append('\n');
        return sb.ToString();
    }

    /// <summary>Parses <see cref="Format"/>'s text; lines starting with '#' are comments.</summary>
    public static Recipe Parse(string text)
    {
        var r = new Recipe();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (parts[0])
            {
                case "seed": r.Seed = ulong.Parse(parts[1], CultureInfo.InvariantCulture); break;
                case "batch": r.Batch = int.Parse(parts[1], CultureInfo.InvariantCulture); break;
                case "output": r.Output = int.Parse(parts[1], CultureInfo.InvariantCulture); break;
                case "loss": r.LossTerms = parts.Skip(1).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList(); break;
                default:
                {
                    int id = int.Parse(parts[0], CultureInfo.InvariantCulture);
                    if (id != r.Instrs.Count || parts.Length < 3 || parts[1] != "=") throw new FormatException($"Bad recipe line: {line}");
                    string op = parts[2];
                    bool pos = false;
                    var args = new List<int>();
                    int[]? ints = null;
                    double[]? reals = null;
                    foreach (var p in parts.Skip(3))
                    {
                        if (p == "pos") pos = true;
                        else if (p.StartsWith("ints=[")) ints = List(p, "ints=").Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                        else if (p.StartsWith("reals=[")) reals = List(p, "reals=").Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                        else args.Add(int.Parse(p, CultureInfo.InvariantCulture));
                    }
                    r.Instrs.Add(new Instr(op, args.ToArray(), ints, reals, pos));
                    break;
                }
            }
        }
        return r;
    }

    private static string[] List(string p, string prefix)
    {
        var inner = p.Substring(prefix.Length + 1, p.Length - prefix.Length - 2);
        return inner.Length == 0 ? Array.Empty<string>() : inner.Split(',');
    }
}
