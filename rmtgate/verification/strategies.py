"""Hypothesis strategies: parameters and random gated architectures.

A drawn architecture is a random composition of gates: which gates exist, which nonlinearity
each uses, which presynaptic vector each random matrix multiplies (the state, or the state
gated by an earlier gate), and how the gates enter the update.  It is returned as the
keyword arguments of :func:`rmtgate.declare`, so that the same draw can also be written as a
spec file.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st  # test extra: imported only by tests and `rmtgate verify`

GATE_NONLINEARITIES = ("sigmoid", "tanh", "hardtanh", "identity")
SMOOTH_GATE_NONLINEARITIES = ("sigmoid", "tanh")
UPDATE_FORMS = ("plain", "leaky", "convex", "two_gates")


@st.composite
def architecture_specs(
    draw: st.DrawFn, *, smooth: bool = False, bounded: bool = False, max_gates: int = 3
) -> dict[str, Any]:
    """Keyword arguments for :func:`rmtgate.declare` describing a random gated RNN.

    ``bounded=True`` keeps the state bounded (only sigmoid gates multiply the state, in convex
    combinations): simulation checks need self-averaging per-neuron statistics, which a
    state with unbounded, heavy-tailed growth does not give at N ~ 1000.
    """
    n_gates = draw(st.integers(min_value=0, max_value=max_gates))
    nonlinearities = SMOOTH_GATE_NONLINEARITIES if smooth else GATE_NONLINEARITIES
    matrices: dict[str, str] = {}
    gates: dict[str, str] = {}
    names: list[str] = []
    used: set[str] = set()
    for index in range(n_gates):
        name = f"g{index}"
        function = draw(st.sampled_from(nonlinearities))
        # the presynaptic vector: the state, or the state gated by an earlier gate
        source = draw(st.sampled_from(["h", *names]))
        used.add(source)
        vector = "h" if source == "h" else f"{source} * h"
        matrices[f"U_{name}"] = f"a_{name}"
        gates[name] = f"{function}(U_{name} @ ({vector}) + b_{name})"
        names.append(name)
    matrices["U_h"] = "a_h"
    candidate = draw(st.sampled_from(["h", *names]))
    used.add(candidate)
    vector = "h" if candidate == "h" else f"{candidate} * h"
    output = draw(st.sampled_from(("tanh", "sigmoid") if smooth else ("tanh", "hardtanh", "sigmoid")))
    drive = f"{output}(U_h @ ({vector}) + b_h)"
    form = draw(st.sampled_from(UPDATE_FORMS if names else ("plain", "leaky")))
    if form == "plain":
        update = drive
    elif form == "leaky":
        update = f"(1 - leak) * h + leak * {drive}"
    elif form == "convex":
        gate = draw(st.sampled_from(names))
        used.add(gate)
        update = f"{gate} * h + (1 - {gate}) * {drive}"
    else:
        first, second = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        used.update((first, second))
        update = f"{first} * h + (1 - {first}) * {second} * {drive}" if bounded else f"{first} * h + {second} * {drive}"
    if bounded and form in ("convex", "two_gates"):
        # the gate multiplying h must lie in (0, 1): make it a logistic gate
        multiplier = update.split(" * h", 1)[0]
        gates[multiplier] = "sigmoid" + gates[multiplier][gates[multiplier].index("(") :]
    # a gate that feeds nothing would leave its matrix unused: let it modulate the update
    for g in names:
        if g not in used:
            update = f"({update}) * (3 + {g}) / 4" if bounded else f"{update} + {g} * h / 4"
    return {
        "name": "random",
        "state": ["h"],
        "matrices": matrices,
        "gates": gates,
        "update": {"h": update},
    }


def random_parameters(arch: Any, seed: int) -> dict[str, float]:
    """Parameters for a drawn architecture: scales in [0.5, 3], biases in [-1, 1], leak in [0.2, 1]."""
    import numpy as np

    rng = np.random.default_rng(seed)
    values: dict[str, float] = {}
    scales = {p.name for p in arch.variance_parameters}
    for p in arch.parameters:
        if p.name in scales:
            values[p.name] = float(rng.uniform(0.5, 3.0))
        elif p.name == "leak":
            values[p.name] = float(rng.uniform(0.2, 1.0))
        else:
            values[p.name] = float(rng.uniform(-1.0, 1.0))
    return values
