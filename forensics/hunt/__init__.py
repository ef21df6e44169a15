"""Detections over a case: Sigma, correlations, SQL hunts, IOC sweeps and YARA."""
