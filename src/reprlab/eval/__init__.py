"""Metrics computed on a trained model and a data set."""

from .reconstruction import encode_data, reconstruction_metrics

__all__ = ["encode_data", "reconstruction_metrics"]
