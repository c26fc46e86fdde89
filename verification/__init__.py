"""Simulation-backed verification of rmtgate's predictions (Hypothesis strategies and checks)."""
