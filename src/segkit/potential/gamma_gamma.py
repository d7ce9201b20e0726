"""Gamma-Gamma model of the value per purchase (Fader, Hardie & Lee 2005, "RFM and CLV").

A customer's purchases have values drawn from a gamma distribution with shape ``p`` and a
customer-specific rate ν; ν is gamma-distributed across customers with shape ``q`` and rate
``gamma``. Only *repeat* purchases enter (the first one is left out, as in the published
analysis), and a customer is summarised by ``x`` (repeat purchases) and ``m`` (their mean value).
The model assumes the value is independent of how often a customer buys and is positive; customers
with a non-positive mean are left out of the fit.

Example
-------
>>> import numpy as np
>>> params = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
>>> np.round(expected_value(params, np.array([0, 2]), np.array([0.0, 22.35])), 2)
array([35.22, 24.66])
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import optimize, special

from .bgnbd import ModelFit

__all__ = ["GammaGammaParams", "GammaGammaFit", "log_likelihood", "fit_gamma_gamma", "expected_value"]

LOG_BOUNDS = (-9.0, 9.0)


@dataclasses.dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters (``gamma`` is in the currency or unit of the criterion)."""

    p: float
    q: float
    gamma: float


@dataclasses.dataclass(frozen=True)
class GammaGammaFit(ModelFit):
    """Outcome of :func:`fit_gamma_gamma` (``params``: :class:`GammaGammaParams`)."""


def log_likelihood(params: GammaGammaParams, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Log density of the mean value ``m`` of ``x`` purchases, one value per row (x > 0, m > 0).

    Examples
    --------
    >>> p = GammaGammaParams(1.0, 2.0, 1.0)
    >>> float(np.round(log_likelihood(p, np.array([1]), np.array([1.0]))[0], 6))  # 2 / (1 + 1)^3
    -1.386294
    """
    return _Rows(x, m).log_likelihood(params)


class _Rows:
    """The rows of a fit with what does not depend on the parameters computed once.

    The optimiser evaluates the likelihood about a hundred times: ``log m``, ``log x`` and ``m x``
    are the same every time, and the two log-gamma terms depend on x only, of which there are few
    distinct values (purchase counts), so they are computed per distinct x and looked up. Each row's
    terms are the same numbers, added in the same order, as computing every term on every row.
    """

    def __init__(self, x: np.ndarray, m: np.ndarray):
        self.x = np.asarray(x, dtype=float)
        m = np.asarray(m, dtype=float)
        self.distinct_x, self.at = np.unique(self.x, return_inverse=True)
        self.log_m, self.log_x, self.mx = np.log(m), np.log(self.x), m * self.x

    def log_likelihood(self, params: GammaGammaParams) -> np.ndarray:
        p, q, g = params.p, params.q, params.gamma
        px, pu = p * self.x, p * self.distinct_x
        return (special.gammaln(pu + q)[self.at] - special.gammaln(pu)[self.at] - special.gammaln(q)
                + q * np.log(g) + (px - 1) * self.log_m + px * self.log_x - (px + q) * np.log(g + self.mx))


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray, weights: np.ndarray | None = None,
                    start: GammaGammaParams | None = None) -> GammaGammaFit:
    """Maximum-likelihood fit on repeat buyers (``x`` > 0, ``m`` > 0); ``weights`` = customers per row.

    ``start``: parameters to start the optimiser from (as in :func:`segkit.potential.bgnbd.fit_bgnbd`).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> nu = rng.gamma(4.0, 1 / 20.0, 3000); x = rng.integers(1, 6, 3000)
    >>> m = rng.gamma(6.0 * x, 1 / (nu * x))
    >>> fit = fit_gamma_gamma(x, m)
    >>> bool(fit.converged and 4.5 < fit.params.p < 8)
    True
    """
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    rows = _Rows(x, m)

    def objective(theta: np.ndarray) -> float:
        value = -float(np.dot(w, rows.log_likelihood(GammaGammaParams(*np.exp(theta))))) / w.sum()
        return value if np.isfinite(value) else 1e300

    # Start with q = 2 and gamma chosen so that the population mean p*gamma/(q-1) is the observed mean.
    mean = float(np.dot(w, m) / w.sum())
    guess = [1.0, 2.0, max(mean, 1e-6)] if start is None else [start.p, start.q, start.gamma]
    theta = np.clip(np.log(guess), LOG_BOUNDS[0] + 1, LOG_BOUNDS[1] - 1)
    res = optimize.minimize(objective, theta, method="L-BFGS-B", bounds=[LOG_BOUNDS] * 3,
                            options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-8})
    at_bound = tuple(n for n, v in zip(("p", "q", "gamma"), res.x)
                     if min(v - LOG_BOUNDS[0], LOG_BOUNDS[1] - v) < 1e-3)
    return GammaGammaFit(GammaGammaParams(*np.exp(res.x)), -float(res.fun) * float(w.sum()),
                         bool(res.success), at_bound, str(res.message))


def expected_value(params: GammaGammaParams, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Expected value of a customer's next purchase given ``x`` repeat purchases of mean ``m``.

    ``p (gamma + x m) / (p x + q - 1)``: a weighted mean of the population mean ``p gamma / (q - 1)``
    and the customer's own mean; a customer without repeat purchases gets the population mean.
    Needs ``q > 1`` (else the population mean is infinite).
    """
    p, q, g = params.p, params.q, params.gamma
    x = np.asarray(x, dtype=float)
    m = np.where(x > 0, np.asarray(m, dtype=float), 0.0)
    return p * (g + x * m) / (p * x + q - 1)
