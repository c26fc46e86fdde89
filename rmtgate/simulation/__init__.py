"""Finite networks: array backends (numpy, cupy lazily) and simulation of any declared architecture, its Jacobians and their eigenvalues."""
