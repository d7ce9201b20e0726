"""Synthetic B2B transactions with planted customer types, for tests, examples and benchmarks.

Every customer gets a planted *type* whose behaviour is known, so tests can check that the
schemes recover it:

- ``steady_vip``  high spend nearly every month;
- ``vip_dropout`` a steady VIP that stops paying entirely from ``stop_month`` on;
- ``growing``     ("potential") activity and spend rise over time;
- ``seasonal``    buys only in the same three months of every year;
- ``one_off``     a single purchase month;
- ``decliner``    activity and spend fall over time;
- ``regular``     the mass of small, irregular customers.

Everything is vectorized with one seeded numpy Generator: the same seed gives the same data, and
10 million rows take seconds, not minutes.

Example
-------
>>> tx, truth = make_transactions(n_customers=200, months=12, seed=1)
>>> sorted(truth["type"].unique())[:3]
['decliner', 'growing', 'one_off']
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ParameterError

__all__ = ["make_transactions", "make_scenario", "write_transactions", "TYPES", "DEFAULT_MIX", "SCENARIOS"]

TYPES = ("steady_vip", "vip_dropout", "growing", "seasonal", "one_off", "decliner", "regular")
DEFAULT_MIX = {"steady_vip": 0.05, "vip_dropout": 0.03, "growing": 0.08, "seasonal": 0.08, "one_off": 0.2,
               "decliner": 0.08, "regular": 0.48}
REGIONS = ("EU", "NA", "APAC")
INDUSTRIES = ("manufacturing", "retail", "construction", "healthcare", "logistics")
SIZES = ("small", "medium", "large")


def make_transactions(n_customers: int = 2000, months: int = 24, start: str = "2023-01-01", seed: int = 0,
                      mix: dict[str, float] | None = None, return_rate: float = 0.02,
                      orders_per_month: float = 1.5, eroding: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate (transactions, truth).

    ``transactions``: customer_id, date (datetime64), order_id (int; a return repeats its order's id),
    quantity, amount, cost, region, industry, size.
    ``truth``: customer_id, type, stop_month (vip_dropout: first month without payments, YYYY-MM),
    first_month, level (typical monthly spend), region, margin_erosion_from.

    Margin erosion: the first ``eroding`` steady VIPs (by customer_id) lose
    :data:`EROSION_PP_PER_MONTH` of margin rate every month over the last :data:`EROSION_MONTHS`
    months (``margin_erosion_from``: the first eroded month). Only their ``cost`` changes, and no
    random number is drawn for it, so every other customer's rows are the same as without erosion.
    """
    rng = np.random.default_rng(seed)
    mix = dict(mix or DEFAULT_MIX)
    shares = np.array([mix.get(t, 0.0) for t in TYPES], dtype=float)
    shares = shares / shares.sum()
    n, M = int(n_customers), int(months)
    ctype = rng.choice(len(TYPES), size=n, p=shares)
    ids = np.array([f"C{i:06d}" for i in range(n)])
    vip = np.isin(ctype, [0, 1])
    level = np.where(vip, rng.lognormal(9.0, 0.2, n), rng.lognormal(5.6, 0.7, n))  # ~8,000 vs ~350 a month
    active, scale, stop = _activity(rng, ctype, n, M, start)
    lines = _order_lines(rng, active, level, scale, vip, start, orders_per_month)
    margin_rate = rng.uniform(0.15, 0.4, n)
    onset = _erosion(ctype, eroding, M)
    lines["cost"] = np.round(lines["amount"] * (1 - _eroded(margin_rate, onset, lines["cust"], lines["month"])), 2)
    returns = _returns(rng, lines, margin_rate, onset, return_rate)
    attributes = {"region": rng.choice(len(REGIONS), n, p=[0.5, 0.3, 0.2]),
                  "industry": rng.integers(0, len(INDUSTRIES), n),
                  "size": np.where(vip, 2, rng.choice(3, n, p=[0.6, 0.3, 0.1]))}
    frame = _transactions_frame(ids, lines, returns, attributes)
    truth = _truth(ids, ctype, stop, active, level, attributes["region"], onset, start, M)
    return frame, truth


def _activity(rng: np.random.Generator, ctype: np.ndarray, n: int, M: int,
              start: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which customer-months buy (by customer type), the spend scale per month, and the dropouts' stop month."""
    t = np.arange(M)[None, :] / max(M - 1, 1)                         # 0..1 through the period
    p = np.full((n, M), 0.35)
    scale = np.ones((n, M))
    p[ctype == 0] = 0.95
    stop = np.full(n, -1)
    drop = ctype == 1
    stop[drop] = rng.integers(M // 2, max(M - 1, M // 2 + 1), drop.sum())
    p[drop] = np.where(np.arange(M)[None, :] < stop[drop, None], 0.95, 0.0)
    grow = ctype == 2
    p[grow] = 0.2 + 0.75 * t
    scale[grow] = 0.3 + 1.7 * t
    seas = ctype == 3
    season = rng.integers(0, 12, n)
    month_of_year = (pd.Timestamp(start).month - 1 + np.arange(M)) % 12
    in_season = ((month_of_year[None, :] - season[:, None]) % 12) < 3
    p[seas] = np.where(in_season[seas], 0.85, 0.0)
    one = ctype == 4
    one_month = rng.integers(0, M, n)
    p[one] = 0.0
    dec = ctype == 5
    p[dec] = 0.9 - 0.75 * t
    scale[dec] = 1.6 - 1.4 * t
    active = rng.random((n, M)) < p
    active[one, one_month[one]] = True
    return active, scale, stop


def _order_lines(rng: np.random.Generator, active: np.ndarray, level: np.ndarray, scale: np.ndarray,
                 vip: np.ndarray, start: str, orders_per_month: float) -> dict[str, np.ndarray]:
    """Orders per active customer-month, one row per order: customer, month, date, quantity, price, amount."""
    cust, month = np.nonzero(active)
    n_orders = 1 + rng.poisson(orders_per_month - 1 if orders_per_month > 1 else 0, cust.size)
    cust = np.repeat(cust, n_orders)
    month = np.repeat(month, n_orders)
    rows = cust.size
    starts = pd.date_range(pd.Timestamp(start).to_period("M").to_timestamp(), periods=active.shape[1] + 1,
                           freq="MS")
    days_in = (starts[1:] - starts[:-1]).days.to_numpy()
    day = (rng.random(rows) * days_in[month]).astype(int)
    dates = starts[:-1].to_numpy()[month] + day.astype("timedelta64[D]")
    per_order = level[cust] * scale[cust, month] / np.repeat(n_orders, n_orders) * rng.lognormal(0, 0.35, rows)
    unit_price = np.where(vip[cust], 120.0, 40.0) * rng.uniform(0.8, 1.2, rows)
    quantity = np.maximum(1, np.round(per_order / unit_price)).astype(np.int64)
    return {"cust": cust, "month": month, "dates": dates, "quantity": quantity, "unit_price": unit_price,
            "amount": np.round(quantity * unit_price, 2), "order_no": np.arange(rows)}


def _returns(rng: np.random.Generator, lines: dict[str, np.ndarray], margin_rate: np.ndarray, onset: np.ndarray,
             return_rate: float) -> dict[str, np.ndarray]:
    """A share of orders come back partly, a few days later (negative quantity, amount and cost)."""
    r_idx = np.flatnonzero(rng.random(lines["cust"].size) < return_rate)
    r_frac = rng.uniform(0.2, 1.0, r_idx.size)
    r_qty = np.maximum(1, np.round(lines["quantity"][r_idx] * r_frac)).astype(np.int64)
    r_amount = -np.round(r_qty * lines["unit_price"][r_idx], 2)
    eroded = _eroded(margin_rate, onset, lines["cust"][r_idx], lines["month"][r_idx])
    return {"idx": r_idx, "quantity": -r_qty, "amount": r_amount, "cost": -np.round(-r_amount * (1 - eroded), 2),
            "dates": lines["dates"][r_idx] + rng.integers(1, 10, r_idx.size).astype("timedelta64[D]")}


def _transactions_frame(ids: np.ndarray, lines: dict[str, np.ndarray], returns: dict[str, np.ndarray],
                        attributes: dict[str, np.ndarray]) -> pd.DataFrame:
    """Order lines then return lines, sorted by date and order id, with the customers' attributes."""
    r = returns["idx"]
    all_cust = np.concatenate([lines["cust"], lines["cust"][r]])
    names = {"region": REGIONS, "industry": INDUSTRIES, "size": SIZES}
    frame = pd.DataFrame({
        "customer_id": ids[all_cust],
        "date": np.concatenate([lines["dates"], returns["dates"]]).astype("datetime64[ns]"),
        "order_id": np.concatenate([lines["order_no"], lines["order_no"][r]]),
        **{k: np.concatenate([lines[k], returns[k]]) for k in ("quantity", "amount", "cost")},
        **{k: np.array(names[k])[v[all_cust]] for k, v in attributes.items()},
    })
    order = np.lexsort((frame["order_id"].to_numpy(), frame["date"].to_numpy()))
    return frame.take(order).reset_index(drop=True)


def _truth(ids: np.ndarray, ctype: np.ndarray, stop: np.ndarray, active: np.ndarray, level: np.ndarray,
           region: np.ndarray, onset: np.ndarray, start: str, M: int) -> pd.DataFrame:
    """What was planted, per customer."""
    first_active = np.where(active.any(axis=1), active.argmax(axis=1), -1)
    month_labels = pd.period_range(pd.Timestamp(start), periods=M, freq="M").strftime("%Y-%m").to_numpy()

    def label(index: np.ndarray) -> np.ndarray:
        return np.where(index >= 0, month_labels[np.clip(index, 0, M - 1)], None)

    return pd.DataFrame({"customer_id": ids, "type": np.array(TYPES)[ctype], "stop_month": label(stop),
                         "first_month": label(first_active), "level": level.round(2),
                         "region": np.array(REGIONS)[region], "margin_erosion_from": label(onset)})


#: planted margin erosion: margin rate lost per month, over the data's last months
EROSION_PP_PER_MONTH = 0.03
EROSION_MONTHS = 12


def _erosion(ctype: np.ndarray, eroding: int, months: int) -> np.ndarray:
    """Per customer the month its margin starts to erode (-1: never): the first steady VIPs."""
    onset = np.full(ctype.size, -1)
    if eroding > 0 and months > EROSION_MONTHS:
        onset[np.flatnonzero(ctype == 0)[:eroding]] = months - EROSION_MONTHS
    return onset


def _eroded(margin_rate: np.ndarray, onset: np.ndarray, cust: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Each row's margin rate after erosion (never below 2%)."""
    steps = np.where((onset[cust] >= 0) & (month >= onset[cust]), month - onset[cust] + 1, 0)
    return np.maximum(margin_rate[cust] - EROSION_PP_PER_MONTH * steps, np.minimum(margin_rate[cust], 0.02))


# ====================================================================== planted verdicts
#: scenario -> (what is planted, the scheme the comparison should recommend or None for "no clear winner")
SCENARIOS: dict[str, tuple[str, str | None]] = {
    "tiers_win": ("the next months' value sits with customers who recently spent big in a few months (few "
                  "purchases), while former big spenders now buy small amounts often", "percentile_tiers"),
    "rfm_wins": ("customers buy at their own steady rate until they leave; every purchase is about the same "
                 "amount, so the future follows how recently and how often a customer bought, not how much in "
                 "one month", "rfm"),
    "simple_wins": ("every customer keeps a steady personal monthly spend, spread over a wide range",
                    None),
    "indistinguishable": ("the future is independent of the past: every customer buys at random", None),
}


def _scenario_plan(name: str, n: int, M: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer x month purchase probability and spend level, and each customer's planted type."""
    p, level = np.zeros((n, M)), np.zeros((n, M))
    if name == "tiers_win":
        # whales spent big in the first months, then buy small amounts often: high monetary, frequency
        # and recency (RFM's Champions, k-means' richest cluster), little future value. Risers bought
        # small until a month before the earliest backtest window, then big in a few months a year:
        # VIP in the months they buy, with less history (monetary) than the whales.
        kind = rng.choice(4, n, p=[0.10, 0.15, 0.50, 0.25])
        own = rng.lognormal(0.0, 0.4, n)
        months = np.arange(M)[None, :]
        fade, rise = rng.integers(4, 7, n), rng.integers(M // 3 - 2, M // 3 + 2, n)
        p[:] = np.select([kind == 0, kind == 1, kind == 2], [0.9, 0.4, 0.5], 0.1)[:, None]
        level[:] = (np.select([kind == 2], [40.0], 60.0) * own)[:, None]
        level[kind == 0] = np.where(months < fade[kind == 0, None], 3000.0, 30.0) * own[kind == 0, None]
        level[kind == 1] = np.where(months < rise[kind == 1, None], 40.0, 800.0) * own[kind == 1, None]
        types = np.array(["whale_faded", "riser", "small_frequent", "occasional"])[kind]
    elif name == "rfm_wins":
        # a steady buying rate (mostly low) until the customer leaves (monthly churn 4%), one order of about
        # the same amount per active month: value follows who is still there and how often they buy over
        # the whole history; a 6-month window sees too few purchases, and a month's value is the same for all
        rate = rng.beta(0.8, 3.0, n)
        leave = rng.geometric(0.04, n)
        p[:] = np.where(np.arange(M)[None, :] < leave[:, None], rate[:, None], 0.0)
        level[:] = 100.0
        types = np.where(leave >= M, "stays", "leaves")
    elif name == "simple_wins":
        p[:] = rng.uniform(0.5, 1.0, n)[:, None]
        level[:] = rng.lognormal(4.0, 1.5, n)[:, None]
        types = np.full(n, "steady")
    elif name == "indistinguishable":
        p[:] = 0.3
        level[:] = 100.0
        types = np.full(n, "random")
    else:
        raise ParameterError(f"unknown scenario {name!r}", where="make_scenario", fix=f"use one of {list(SCENARIOS)}")
    return p, level, types


def make_scenario(name: str, n_customers: int = 800, months: int = 30, start: str = "2022-01-01",
                  seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transactions where the right verdict is known (:data:`SCENARIOS`), and the planted ``truth``.

    ``transactions``: customer_id, date, order_id, quantity, amount, cost (no returns);
    ``truth``: customer_id, type. Order amounts vary around each customer's monthly level
    (lognormal, sigma 0.2).

    >>> tx, truth = make_scenario("tiers_win", n_customers=100, months=12, seed=1)
    >>> sorted(truth["type"].unique())
    ['occasional', 'riser', 'small_frequent', 'whale_faded']
    """
    rng = np.random.default_rng(seed)
    n, M = int(n_customers), int(months)
    p, level, types = _scenario_plan(name, n, M, rng)
    active = rng.random((n, M)) < p
    cust, month = np.nonzero(active)
    noise = 0.2
    amount_month = level[cust, month] * rng.lognormal(0.0, noise, cust.size)
    starts = pd.date_range(pd.Timestamp(start).to_period("M").to_timestamp(), periods=M + 1, freq="MS")
    days_in = (starts[1:] - starts[:-1]).days.to_numpy()
    day = (rng.random(cust.size) * days_in[month]).astype(int)
    unit_price = rng.uniform(8.0, 12.0, cust.size)
    quantity = np.maximum(1, np.round(amount_month / unit_price)).astype(np.int64)
    amount = np.round(quantity * unit_price, 2)
    ids = np.array([f"S{i:05d}" for i in range(n)])
    frame = pd.DataFrame({
        "customer_id": ids[cust],
        "date": (starts[:-1].to_numpy()[month] + day.astype("timedelta64[D]")).astype("datetime64[ns]"),
        "order_id": np.arange(cust.size), "quantity": quantity, "amount": amount,
        "cost": np.round(amount * 0.7, 2),
    })
    frame = frame.sort_values(["date", "order_id"], kind="stable").reset_index(drop=True)
    return frame, pd.DataFrame({"customer_id": ids, "type": types})


def write_transactions(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write to CSV (``.csv``/``.csv.gz``) or Parquet (``.parquet``) with pyarrow (fast, streaming)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if "date" in table.column_names and pa.types.is_timestamp(table.schema.field("date").type):
        table = table.set_column(table.column_names.index("date"), "date", table["date"].cast(pa.date32()))
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    elif path.name.endswith(".gz"):
        import gzip

        with gzip.GzipFile(path, "wb", mtime=0) as fh:  # mtime 0: the same data gives the same bytes
            pacsv.write_csv(table, fh)
    else:
        pacsv.write_csv(table, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segkit.datasets",
                                     description="Write synthetic B2B transactions with planted customer types.")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--start", default="2023-01-01")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="file to write (.csv, .csv.gz or .parquet)")
    parser.add_argument("--truth", help="also write the planted truth to this CSV")
    args = parser.parse_args(argv)
    frame, truth = make_transactions(args.customers, args.months, args.start, args.seed)
    write_transactions(frame, args.out)
    if args.truth:
        truth.to_csv(args.truth, index=False)
    print(f"{len(frame):,} rows for {args.customers:,} customers written to {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
