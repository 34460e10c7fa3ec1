"""Metrics computed on a trained model and a data set."""

from .features import FeatureClassifier, classifier_features, inception_features
from .fid import fid_from_features, frechet_distance, image_quality, kid, precision_recall
from .modes import VEEGAN_TABLE, mixture_mode_coverage, mode_coverage
from .neighbors import knn_accuracy, map_quality, trustworthiness
from .probes import fewshot_probe, fit_linear_probe, knn_probe, label_subset, linear_probe
from .reconstruction import encode_data, reconstruction_metrics
from .sample_quality import generated_image_quality, sample_quality
from .subspace import decoder_columns, subspace_agreement

__all__ = [
    "FeatureClassifier", "VEEGAN_TABLE", "classifier_features", "fid_from_features", "frechet_distance", "image_quality",
    "fewshot_probe", "fit_linear_probe", "inception_features", "kid", "knn_probe", "label_subset", "linear_probe",
    "generated_image_quality", "mixture_mode_coverage", "mode_coverage", "precision_recall", "sample_quality",
    "decoder_columns", "encode_data", "knn_accuracy", "map_quality", "reconstruction_metrics", "subspace_agreement",
    "trustworthiness",
]
