"""Evaluation of representations."""
from .extract import extract_features
from .functional import few_shot_accuracy, knn_accuracy, knn_predict
from .metrics import KNNAccuracy

__all__ = [
    'KNNAccuracy', 'extract_features', 'few_shot_accuracy', 'knn_accuracy', 'knn_predict']
