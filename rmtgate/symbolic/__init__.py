"""The expression layer: an architecture declared as data (spec files, built-ins) and the pure symbolic stages Jacobian → linearization M = A + B U C → boundary ρ(L(λ)) = 1, chained by ``derive``."""
