"""Metrics on learned dictionaries, one module per family (cosines, composites, MCS, densities)."""
