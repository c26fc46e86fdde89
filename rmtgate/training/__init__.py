"""Trained networks of [S]: tasks as data, BPTT on the array backend, low-rank analyses of ΔW and the linear learning theory."""
