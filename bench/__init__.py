"""Benchmarks: speed and cost goals, reported as ratios against a floor measured in the same run."""
