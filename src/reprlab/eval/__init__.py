"""Metrics computed on a trained model and a data set."""

from .neighbors import knn_accuracy, map_quality, trustworthiness
from .reconstruction import encode_data, reconstruction_metrics
from .subspace import decoder_columns, subspace_agreement

__all__ = [
    "decoder_columns", "encode_data", "knn_accuracy", "map_quality", "reconstruction_metrics", "subspace_agreement",
    "trustworthiness",
]
