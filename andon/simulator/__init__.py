"""Deterministic plant simulator with ground truth."""
