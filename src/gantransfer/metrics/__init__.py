"""Metrics: FID, KID, PRDC, exact mixture metrics, the protocol classifiers, and `gantransfer eval`."""
from gantransfer.metrics.fid import RunningStats, fid_from_features, frechet_distance, gaussian_stats
from gantransfer.metrics.kid import kernel_inception_distance
from gantransfer.metrics.mixture import mixture_metrics
from gantransfer.metrics.prdc import prdc

__all__ = ["RunningStats", "fid_from_features", "frechet_distance", "gaussian_stats", "kernel_inception_distance",
           "mixture_metrics", "prdc"]
