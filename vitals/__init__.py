"""city-vitals: streaming vital signs, anomaly scores and early warnings for a megacity."""

__version__ = "0.1.0"
