"""Compiled numerics of the derived formulas: parameter resolution, lambdify (numpy / mpmath), Gaussian quadrature, samples of local variables, boundary evaluators and the spectral-curve finder."""
