"""planpulse: action-plan KPI tracking service."""

__version__ = "0.1.0"
