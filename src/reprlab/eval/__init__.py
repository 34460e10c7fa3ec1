"""Metrics computed on a trained model and a data set."""

from .reconstruction import encode_data, reconstruction_metrics
from .subspace import decoder_columns, subspace_agreement

__all__ = ["decoder_columns", "encode_data", "reconstruction_metrics", "subspace_agreement"]
