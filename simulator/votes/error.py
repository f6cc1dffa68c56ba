"""The shared polling error: one shock per simulated election that every poll shares.

Polls of one election miss together (Shirani-Mehr et al. 2018), so each run draws one error vector
and multiplies every bucket's share by exp(error) before the shares are renormalised: the error is
on the log-ratio scale. Bucket k's error is ``scale_k * z_k * sqrt(df / w)`` with z_k standard
normal and one w ~ chi-square(df) per run (a multivariate Student t: one bad night for the polls
moves every party), where

    scale_k = scale * (max(share_k, SHARE_FLOOR) / REFERENCE_SHARE) ** (size_exponent - 1)
              * sqrt(1 + drift * days / 30)

so a list at 10 % misses by about ``scale`` of itself on election day, the error in points grows
as share ** size_exponent (1: in proportion to the share; 0.5: as sampling error does), and its
variance grows by ``drift`` per 30 days between the polls and the election. ``electsim calibrate
--fit`` estimates the four numbers from past elections (see :mod:`simulator.calibration`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import Model

REFERENCE_SHARE = 0.10
SHARE_FLOOR = 0.005  # lists below 0.5 % have the log-scale error of a list at 0.5 %


@dataclass(frozen=True)
class ErrorParams:
    scale: float
    df: float = math.inf  # inf: normal
    size_exponent: float = 1.0
    drift: float = 0.0

    @classmethod
    def of(cls, model: Model) -> ErrorParams:
        return cls(model.error_scale, model.error_df, model.error_size_exponent, model.error_drift)


def shock_scales(shares: np.ndarray, days: float, params: ErrorParams) -> np.ndarray:
    """Scale of each bucket's log-ratio error for buckets at ``shares`` (fractions), ``days``
    before the election (NaN counts as 0)."""
    p = np.maximum(np.asarray(shares, float), SHARE_FLOOR)
    d = 0.0 if not np.isfinite(days) else max(days, 0.0)
    size = (p / REFERENCE_SHARE) ** (params.size_exponent - 1.0)
    return params.scale * size * math.sqrt(1.0 + params.drift * d / 30.0)


_C_GRID = np.linspace(-1.5, 1.5, 601)  # the common shift of log shares, integrated out


def log_predictive(delta: np.ndarray, sampling_var: np.ndarray, scales: np.ndarray,
                   df: float) -> float:
    """Log density of one election's observed log-share errors ``delta`` (log actual - log
    forecast mean, per bucket) under the model: independent Student-t errors of scale
    sqrt(sampling_var + scale^2) (the normal sampling error folded into the t), up to a common
    shift of every log share (renormalisation), which is integrated out under a flat prior. This
    is the likelihood :func:`simulator.calibration.fit_error` maximises."""
    from scipy import special

    s2 = sampling_var + scales ** 2
    z2 = (delta[None, :] + _C_GRID[:, None]) ** 2 / s2[None, :]
    if math.isinf(df):
        logf = -0.5 * z2 - 0.5 * np.log(2 * math.pi * s2)[None, :]
    else:
        norm = (special.gammaln((df + 1) / 2) - special.gammaln(df / 2)
                - 0.5 * np.log(df * math.pi * s2))
        logf = norm[None, :] - (df + 1) / 2 * np.log1p(z2 / df)
    total = logf.sum(axis=1)
    top = total.max()
    step = _C_GRID[1] - _C_GRID[0]
    return float(top + math.log(np.exp(total - top).sum() * step))
