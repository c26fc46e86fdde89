"""Checks of every prediction against simulation: the check harness and its profiles, theory-vs-simulation comparisons and random-architecture strategies."""
