"""House effects and overdispersion: what the polls' scatter says beyond sampling error.

For each party the polls name (a bucket other than ``others``), on the logit scale:

    logit(y_r) = m(t_r) + h[firm(r)] + e_r,    e_r ~ N(0, deff * v_r),  v_r = 1 / (n_r y_r (1 - y_r))

* m is the party's support: a random walk in weekly steps, sd ``TREND_SD`` per sqrt(day), so old
  polls inform the house effects without pinning today's level;
* h is the firm's house effect, drawn from N(0, tau^2): partial pooling, a firm with few polls is
  pulled toward 0. The effects sum to zero over the firms with two polls or more, unless a past
  result anchors them (an exact observation with no house effect). A firm with a single poll gets
  no effect: its poll carries the variance tau^2 of the effect it may have instead;
* deff is the design effect (``design_effect = "estimate"``): the factor by which the polls scatter
  beyond their sampling error, floored at 1, shared by all parties.

tau^2 (per party) and deff are estimated by EM, as variance components (the posterior covariance
enters each update, as in REML); given them, m and h are the penalised least-squares solution
(the posterior mode), and the inverse of its normal matrix is their posterior covariance. With
fewer than three firms of two polls or more, tau comes from ``DEFAULT_HOUSE_POINTS`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TREND_SD = 0.02  # logit sd of a party's support per sqrt(day): about 1 point a month at 10 %
DEFAULT_HOUSE_POINTS = 0.03  # house-effect sd in points is this x sqrt(share), when not estimable
_SUM_ZERO = 1e8  # penalty weight of the sum-to-zero constraint
_ANCHOR_VAR = 1e-8  # logit variance of a past result: exact for this purpose


@dataclass(frozen=True)
class PollErrors:
    """What :func:`fit_poll_errors` found."""

    effects: np.ndarray  # (polls x buckets) logit house effect to subtract (0: none)
    variance: np.ndarray  # (polls x buckets) posterior variance of that effect (tau^2 if none)
    deff: float  # design effect (1 unless estimated)
    tau: np.ndarray  # (buckets,) house-effect sd on the logit scale (0 for others)
    firms: tuple[str, ...]  # firms with two polls or more (the ones with an effect)
    firm_effects: np.ndarray  # (firms x buckets) their effects, logit scale

    def correct(self, shares: np.ndarray, grouped: np.ndarray) -> np.ndarray:
        """The polls' named shares with the house effects taken out (on the logit scale), rescaled
        so that each poll's named total (1 - grouped) is unchanged: effects move support between
        the parties a poll names, never into or out of its ``others``."""
        named = ~np.isnan(shares)
        y = np.clip(np.where(named, shares, 0.5), 1e-9, 1 - 1e-9)
        z = np.log(y / (1 - y)) - self.effects
        c = np.where(named, 1.0 / (1.0 + np.exp(-z)), 0.0)
        total = c.sum(axis=1, keepdims=True)
        scale = np.where(total > 0, (1.0 - grouped[:, None]) / np.where(total > 0, total, 1.0), 0.0)
        out = np.where(named, c * scale, np.nan)
        return np.where(self.effects.any(axis=1, keepdims=True), out, shares)

    def weight_factor(self, shares: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Per poll: the share of its information left once the uncertainty of its house effect is
        counted, mean over its named parties of v / (v + var(effect)); multiplies its sample size."""
        named = ~np.isnan(shares)
        edge = _edge(n)[:, None]
        y = np.clip(np.where(named, shares, 0.5), edge, 1 - edge)
        v = self.deff / (n[:, None] * y * (1 - y))
        f = np.where(named & (self.variance > 0), v / (v + self.variance), 1.0)
        k = np.maximum(named.sum(axis=1), 1)
        return np.where(named, f, 0.0).sum(axis=1) / k + (named.sum(axis=1) == 0)


def fit_poll_errors(shares: np.ndarray, n: np.ndarray, days: np.ndarray, firms: tuple[str, ...],
                    buckets: int, house: bool, estimate_deff: bool, deff: float = 1.0,
                    anchors: list[tuple[float, np.ndarray]] = (), iterations: int = 200,
                    tol: float = 1e-7) -> PollErrors:
    """Fit house effects (if ``house``) and the design effect (if ``estimate_deff``; else ``deff``
    is used) to polls: ``shares`` (polls x buckets, NaN where unnamed; the last bucket may be
    ``others``, which gets no effect), sample sizes ``n``, ``days`` before the election (NaN:
    unknown, no trend), and each poll's firm. ``anchors`` are past results: ``(days, shares)``."""
    polls = shares.shape[0]
    counts = {f: firms.count(f) for f in firms}
    multi = tuple(sorted({f for f in firms if counts[f] >= 2})) if house else ()
    t = np.where(np.isnan(days), 0.0, days)
    anchored = house and len(anchors) > 0
    parts = []
    for k in range(buckets):
        rows = np.flatnonzero(~np.isnan(shares[:, k]))
        if rows.size == 0:
            parts.append(None)
            continue
        y = np.clip(shares[rows, k], _edge(n[rows]), 1 - _edge(n[rows]))
        obs = [(np.log(y / (1 - y)), 1.0 / (n[rows] * y * (1 - y)), t[rows],
                np.array([multi.index(firms[r]) if firms[r] in multi else -1 for r in rows]),
                np.array([counts[firms[r]] == 1 and house for r in rows]))]
        for a_days, a_shares in anchors if anchored else ():
            if not np.isnan(a_shares[k]):
                ya = np.clip(a_shares[k], 1e-6, 1 - 1e-6)
                obs.append((np.array([np.log(ya / (1 - ya))]), np.array([_ANCHOR_VAR]),
                            np.array([a_days]), np.array([-1]), np.array([False])))
        l, v, tt, f, single = (np.concatenate(x) for x in zip(*obs))
        parts.append(_Party(rows, l, v, tt, f, single, len(multi), anchored))
    named = ~np.isnan(shares)
    theta = np.where(named, shares, 0.0).sum(axis=0) / np.maximum(named.sum(axis=0), 1)
    tau2 = np.array([_default_tau(theta[k]) ** 2 if parts[k] is not None else 0.0
                     for k in range(buckets)])
    estimable = len(multi) >= 3
    for _ in range(iterations):
        ss = 0.0
        rows_total = 0
        new_tau2 = tau2.copy()
        for k, part in enumerate(parts):
            if part is None:
                continue
            part.solve(deff, tau2[k])
            if estimable and part.firms:
                new_tau2[k] = max(part.house_second_moment(), 1e-6)
            s, r = part.scale_statistic()
            ss += s
            rows_total += r
        new_deff = max(1.0, ss / rows_total) if estimate_deff and rows_total else deff
        done = abs(new_deff - deff) < tol * deff and np.allclose(new_tau2, tau2, rtol=tol, atol=0)
        deff, tau2 = new_deff, new_tau2
        if done:
            break
    effects = np.zeros((polls, buckets))
    variance = np.zeros((polls, buckets))
    firm_effects = np.zeros((len(multi), buckets))
    for k, part in enumerate(parts):
        if part is None or not house:
            continue
        part.solve(deff, tau2[k])
        h, hv = part.house()
        firm_effects[:, k] = h
        for j, r in enumerate(part.rows):
            fi = part.f[j]
            effects[r, k] = h[fi] if fi >= 0 else 0.0
            variance[r, k] = hv[fi] if fi >= 0 else tau2[k]
    return PollErrors(effects=effects, variance=variance, deff=float(deff),
                      tau=np.sqrt(np.where(tau2 > 0, tau2, 0.0)) if house else np.zeros(buckets),
                      firms=multi, firm_effects=firm_effects)


def _edge(n: np.ndarray) -> np.ndarray:
    """How close to 0 or 1 a share of a poll of n may be taken on the logit scale: half a
    respondent (a poll of fewer than two people: a quarter)."""
    return np.minimum(0.5 / n, 0.25)


def _default_tau(share: float) -> float:
    """House-effect sd on the logit scale for a party at ``share`` when the polls cannot tell:
    ``DEFAULT_HOUSE_POINTS`` x sqrt(share) points, over the logit's slope share (1 - share)."""
    p = min(max(share, 0.005), 0.995)
    return DEFAULT_HOUSE_POINTS * np.sqrt(p) / (p * (1 - p))


class _Party:
    """One party's observations and its penalised least-squares system (trend, then effects).

    The trend is the support in the weeks that have an observation only: between two such weeks g
    weeks apart, a weekly random walk moves by the sum of g steps, whose variance is g times a
    step's, so the weeks in between are integrated out exactly and the system grows with the
    polls, not with the days they span."""

    def __init__(self, rows, l, v, t, f, single, firms: int, anchored: bool):
        self.rows, self.l, self.v, self.f, self.single = rows, l, v, f, single
        self.firms = firms
        self.anchored = anchored
        weeks, self.bin = np.unique(np.floor(t / 7.0), return_inverse=True)
        self.bins = int(weeks.size)
        p = self.bins + firms
        self.x = np.zeros((l.size, p))
        self.x[np.arange(l.size), self.bin] = 1.0
        has = f >= 0
        self.x[np.flatnonzero(has), self.bins + f[has]] = 1.0
        walk = np.zeros((p, p))  # random-walk prior on the weekly support
        for j, gap in enumerate(np.diff(weeks)):
            step = 1.0 / (TREND_SD ** 2 * 7.0 * gap)
            walk[j, j] += step
            walk[j + 1, j + 1] += step
            walk[j, j + 1] -= step
            walk[j + 1, j] -= step
        walk[0, 0] += 1e-10
        if firms and not anchored:
            ones = np.zeros(p)
            ones[self.bins:] = 1.0
            walk += _SUM_ZERO * np.outer(ones, ones)
        self.walk = walk
        self.coef = np.zeros(p)
        self.cov = np.zeros((p, p))
        self.var = v
        self.extra = np.zeros_like(v)

    def solve(self, deff: float, tau2: float) -> None:
        self.extra = np.where(self.single, tau2, 0.0)
        self.var = deff * self.v + self.extra
        w = 1.0 / self.var
        a = self.walk.copy()
        if self.firms:
            idx = np.arange(self.bins, self.bins + self.firms)
            a[idx, idx] += 1.0 / tau2
        a += (self.x * w[:, None]).T @ self.x
        self.cov = np.linalg.inv(a)
        self.coef = self.cov @ (self.x.T @ (w * self.l))

    def house(self) -> tuple[np.ndarray, np.ndarray]:
        idx = slice(self.bins, self.bins + self.firms)
        return self.coef[idx], np.diag(self.cov)[idx].copy()

    def house_second_moment(self) -> float:
        """E[h^2] under the posterior, averaged over the firms: the EM update of tau^2."""
        h, hv = self.house()
        return float(np.mean(h * h + hv))

    def scale_statistic(self) -> tuple[float, int]:
        """Sum over polls of E[residual^2] / v (minus each poll's extra variance) and the count:
        the EM update of deff is their ratio."""
        resid = self.l - self.x @ self.coef
        spread = np.einsum("ij,jk,ik->i", self.x, self.cov, self.x)
        real = self.v > _ANCHOR_VAR
        s = ((resid ** 2 + spread - self.extra) / self.v)[real]
        return float(np.sum(s)), int(real.sum())
