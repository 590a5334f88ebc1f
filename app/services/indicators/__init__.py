"""Indicators: definitions, targets, values, and where each stands (attainment)."""
