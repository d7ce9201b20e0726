"""Fit and prediction times on millions of synthetic customers: ``python -m segkit.potential.bench``.

Customers are drawn from a BG/NBD process directly as sufficient statistics (no transactions):
λ ~ Gamma(r, alpha), dropout probability p ~ Beta(a, b); the number of purchase opportunities
before dropping out is geometric, the purchases in ``T`` days are Poisson, and the last
purchase time is the x-th order statistic of uniform arrival times. Times are whole days.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from .bgnbd import BGNBDParams, fit_bgnbd
from .model import predict_grouped

__all__ = ["simulate_summaries", "run"]


def simulate_summaries(n: int, params: BGNBDParams, *, max_age_days: int = 546, time_unit_days: float = 7.0,
                       seed: int = 0) -> pd.DataFrame:
    """``x, span_days, age_days`` for ``n`` customers who joined uniformly over ``max_age_days``.

    Examples
    --------
    >>> s = simulate_summaries(1000, BGNBDParams(0.25, 4.0, 0.8, 2.5), seed=1)
    >>> bool((s.span_days <= s.age_days).all() and (s.x >= 0).all())
    True
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(1, max_age_days + 1, n)
    T = age / time_unit_days
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    allowed = rng.geometric(p)  # the purchase after which the customer drops out
    arrivals = rng.poisson(lam * T)
    x = np.minimum(arrivals, allowed)
    # the x-th of `arrivals` uniform times on [0, T] is T * Beta(x, arrivals - x + 1)
    frac = np.zeros(n)
    buy = x > 0
    frac[buy] = rng.beta(x[buy], arrivals[buy] - x[buy] + 1)
    span = np.minimum(np.floor(frac * age), age).astype(np.int64)
    return pd.DataFrame({"x": x.astype(np.int64), "span_days": span, "age_days": age.astype(np.int64)})


def run(sizes: tuple[int, ...] = (1_000_000, 8_000_000), seed: int = 0) -> pd.DataFrame:
    """Seconds to group, fit and predict (per customer, in batches) for each size."""
    truth = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    rows = []
    for n in sizes:
        s = simulate_summaries(n, truth, seed=seed)
        t0 = time.perf_counter()
        keys = s.groupby(["x", "span_days", "age_days"], sort=False)
        g, index = keys.size().reset_index(name="n"), keys.ngroup().to_numpy()
        t1 = time.perf_counter()
        fit = fit_bgnbd(g.x.to_numpy(), g.span_days.to_numpy() / 7, g.age_days.to_numpy() / 7, g.n.to_numpy())
        t2 = time.perf_counter()
        # As predict_potential does: once per distinct summary, then handed to every customer sharing it.
        alive, buys = predict_grouped(fit.params, g.x.to_numpy(), g.span_days.to_numpy() / 7,
                                      g.age_days.to_numpy() / 7, 26.0)
        per_customer = alive[index], buys[index]
        t3 = time.perf_counter()
        rows.append({"customers": n, "groups": len(g), "group_s": round(t1 - t0, 2), "fit_s": round(t2 - t1, 2),
                     "predict_s": round(t3 - t2, 2), "predicted_purchases": round(float(per_customer[1].sum())),
                     **{k: round(float(v), 3) for k, v in vars(fit.params).items()}})
    return pd.DataFrame(rows)


if __name__ == "__main__":  # pragma: no cover - manual benchmark
    sizes = tuple(int(a) for a in sys.argv[1:]) or (1_000_000, 8_000_000)
    print(run(sizes).to_string(index=False))
