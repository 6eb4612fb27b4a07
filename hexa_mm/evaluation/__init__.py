"""Evaluation of representations."""
from .extract import extract_features
from .functional import few_shot_accuracy, knn_accuracy, knn_predict
from .metrics import FewShotAccuracy, KNNAccuracy
from .representation import measure_representation
from .statistics import mean_std, paired_difference

__all__ = [
    'FewShotAccuracy', 'KNNAccuracy', 'extract_features', 'few_shot_accuracy',
    'knn_accuracy', 'knn_predict', 'mean_std', 'measure_representation',
    'paired_difference'
]
