"""Numbers, money, percentages and dates written the way the reader's language writes them.

Every function formats in the active language (:func:`segkit.i18n.current`) with Babel's locale
data (CLDR): thousands and decimal separators, the currency's symbol and where it goes, the percent
sign's spacing, month names. The run's ``currency`` decides which currency an amount is in; the
language only decides how it is written. Without a currency an amount is written as a plain number
(no sign is better than a wrong one).

Example
-------
>>> from segkit.i18n import using
>>> with using("cs"):
...     money(2283, "CZK"), pct(0.624), number(1234567)
('2\\xa0283\\xa0Kč', '62\\xa0%', '1\\xa0234\\xa0567')
>>> money(2283, "USD"), money(2283, None), money(91_234, "USD")
('$2,283', '2,283', '$91K')
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import (format_compact_currency, format_compact_decimal, format_currency, format_decimal,
                           parse_pattern)

from .i18n import babel_locale

__all__ = ["number", "decimal", "factor", "pct", "money", "compact_money", "date", "month", "month_short", "DASH"]

#: what a table shows where there is no value
DASH = "–"


@functools.lru_cache(maxsize=None)
def _locale(code: str) -> Locale:
    return Locale.parse(code)


def _bad(x: Any) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def number(x: float, digits: int = 0) -> str:
    """A number with the language's separators and exactly ``digits`` decimals.

    >>> number(2283.456, 1), number(-5)
    ('2,283.5', '-5')
    """
    if _bad(x):
        return DASH
    return format_decimal(round(float(x), digits), format=_pattern("#,##0", digits), locale=babel_locale())


def decimal(x: float, digits: int = 2) -> str:
    """A small measure (a score, a probability) with ``digits`` decimals: ``0.66`` / ``0,66``."""
    return number(x, digits)


def factor(x: float, digits: int = 2) -> str:
    """A rule's factor or threshold with up to ``digits`` decimals, none trailing: ``1.25`` / ``1,25``, ``2``.

    Thresholds are shown as they are set (1.25 must not read 1.2), without invented zeros.

    >>> factor(1.25), factor(2.0)
    ('1.25', '2')
    """
    return format_decimal(round(float(x), digits), format="#,##0." + "#" * digits if digits > 0 else "#,##0",
                          locale=babel_locale())


def _pattern(base: str, digits: int) -> str:
    return base + ("." + "0" * digits if digits > 0 else "")


def pct(x: float | None, digits: int = 0) -> str:
    """A share as a percentage in the language's style: ``62%``, ``62 %`` (Czech), ``62,5%``.

    >>> pct(0.625, 1), pct(None)
    ('62.5%', '–')
    """
    if _bad(x):
        return DASH
    loc = _locale(babel_locale())
    pattern = parse_pattern(loc.percent_formats[None].pattern)
    pattern.frac_prec = (digits, digits)
    return pattern.apply(float(x), loc)


def money(x: float, currency: str | None, *, compact_from: float = 1e4, millions_digits: int = 2) -> str:
    """An amount for text: whole units below ``compact_from``, then thousands and millions in the
    language's short words (``91K``, ``91 tis.``), the currency's symbol where the language puts it.

    >>> money(2_345_678, "EUR"), money(950.4, "EUR")
    ('€2.35M', '€950')
    """
    if _bad(x):
        return DASH
    x, loc = float(x), babel_locale()
    if abs(x) >= compact_from:
        digits = millions_digits if abs(x) >= 1e6 else 0
        if currency is None:
            return format_compact_decimal(x, locale=loc, fraction_digits=digits)
        return format_compact_currency(x, currency, locale=loc, fraction_digits=digits)
    if currency is None:
        return number(x)
    pattern = parse_pattern(_locale(loc).currency_formats["standard"].pattern)
    pattern.frac_prec = (0, 0)
    return _spaced(format_currency(round(x), currency, format=pattern, locale=loc, currency_digits=False),
                   currency, loc)


def _spaced(text: str, currency: str, loc: str) -> str:
    """CLDR's currency spacing, which Babel leaves out: a code written as letters (``CZK``) is kept
    apart from the digits by a no-break space (``CZK 2,283``, not ``CZK2,283``)."""
    from babel.numbers import get_currency_symbol

    symbol = get_currency_symbol(currency, locale=loc)
    if symbol[-1:].isalpha():
        text = re.sub(re.escape(symbol) + r"(?=[\d-])", symbol + "\xa0", text)
    if symbol[:1].isalpha():
        text = re.sub(r"(?<=\d)" + re.escape(symbol), "\xa0" + symbol, text)
    return text


def compact_money(x: float, currency: str | None) -> str:
    """An amount for an axis tick: short from one thousand on, with one decimal where ticks would
    otherwise read the same (1.5K and 2K; 1.5M).

    >>> compact_money(1500, "USD"), compact_money(25_000, None)
    ('$1.5K', '25K')
    """
    if _bad(x):
        return DASH
    x, loc = float(x), babel_locale()
    if abs(x) < 1e3:
        return money(x, currency)
    digits = 1 if abs(x) < 1e4 or abs(x) >= 1e6 else 0
    if currency is None:
        return format_compact_decimal(x, locale=loc, fraction_digits=digits)
    return format_compact_currency(x, currency, locale=loc, fraction_digits=digits)


def _as_date(d: Any) -> dt.date:
    if isinstance(d, dt.datetime):
        return d.date()
    if isinstance(d, dt.date):
        return d
    if hasattr(d, "to_pydatetime"):
        return d.to_pydatetime().date()
    text = str(d)[:10]
    return dt.date.fromisoformat(text + "-01" if len(text) == 7 else text)  # "2024-03": a month


def date(d: Any) -> str:
    """A day as the language writes it: ``Dec 3, 2026``, ``3. 12. 2026``, ``3 gru 2026``.

    >>> date("2026-12-03")
    'Dec 3, 2026'
    """
    if d is None or (not isinstance(d, str) and _bad_date(d)):
        return DASH
    return format_date(_as_date(d), "medium", locale=babel_locale())


def _bad_date(d: Any) -> bool:
    try:
        return d != d  # NaT / NaN
    except (TypeError, ValueError):
        return False


def month(d: Any) -> str:
    """A month with its name: ``December 2026``, ``prosinec 2026``, ``grudzień 2026``."""
    if d is None or (not isinstance(d, str) and _bad_date(d)):
        return DASH
    return format_date(_as_date(d), "LLLL y", locale=babel_locale())


def month_short(d: Any) -> str:
    """A month for a crowded axis: ``Dec 2026``, ``pro 2026``."""
    if d is None or (not isinstance(d, str) and _bad_date(d)):
        return DASH
    return format_date(_as_date(d), "LLL y", locale=babel_locale())


def unit(label: str, currency: str | None) -> str:
    """A column or axis label with the currency's symbol in brackets (nothing without a currency).

    >>> unit("Net revenue", "EUR"), unit("Net revenue", None)
    ('Net revenue (€)', 'Net revenue')
    """
    if currency is None:
        return label
    from babel.numbers import get_currency_symbol

    return f"{label} ({get_currency_symbol(currency, locale=babel_locale())})"
