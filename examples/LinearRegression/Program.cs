using System;
using Examples.LinearRegression;

// The generated part of LinearRegressionModel holds the graph the generator evaluated at build time.
// (Training arrives with the code emitter; for now this proves the generator is wired in.)
Console.WriteLine("Linear regression, y = 3x + 0.5: the model's graph, evaluated at build time:");
Console.WriteLine();
Console.Write(LinearRegressionModel.GraphText);
