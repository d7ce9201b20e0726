"""The reader's language: local formats of numbers, money, percentages and dates, the run key, and
figures whose tick labels never overlap."""

from __future__ import annotations

import datetime as dt

import pytest

from segkit import formats
from segkit.config import RunParams
from segkit.errors import ConfigError
from segkit.i18n import LANGUAGES, using

NBSP = "\xa0"


@pytest.mark.parametrize("language, currency, expected", [
    ("cs", "CZK", f"2{NBSP}283{NBSP}Kč"),
    ("pl", "PLN", f"2{NBSP}283{NBSP}zł"),
    ("ro", "RON", f"2.283{NBSP}RON"),
    ("sr", "RSD", f"2.283{NBSP}RSD"),
    ("en", "USD", "$2,283"),
    ("en", "GBP", "£2,283"),
    ("cs", "EUR", f"2{NBSP}283{NBSP}€"),
])
def test_money_is_written_the_way_the_language_writes_it(language, currency, expected):
    with using(language):
        assert formats.money(2283.4, currency) == expected


def test_the_currency_decides_the_currency_the_language_decides_the_writing():
    with using("cs"):
        assert formats.money(2283, "USD") == f"2{NBSP}283{NBSP}US$"
    with using("en"):
        assert formats.money(2283, "CZK") == "CZK\xa02,283"


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_without_a_currency_amounts_carry_no_sign(language):
    with using(language):
        for x in (950, 2283, 91_234, 2_345_678):
            text = formats.money(x, None)
            assert not any(sign in text for sign in ("$", "USD", "€", "Kč", "zł", "RON", "RSD")), text
            assert any(ch.isdigit() for ch in text)


def test_large_amounts_are_short_in_the_readers_words():
    with using("cs"):
        assert formats.money(91_234, "CZK") == f"91{NBSP}tis.{NBSP}Kč"
        assert formats.money(2_345_678, "CZK") == f"2,35{NBSP}mil.{NBSP}Kč"
    with using("pl"):
        assert formats.money(91_234, "PLN") == f"91{NBSP}tys.{NBSP}zł"
    with using("en"):
        assert formats.money(91_234, "USD") == "$91K"
        assert formats.compact_money(1_500, "USD") == "$1.5K"  # ticks at 1,500 and 2,000 read differently


@pytest.mark.parametrize("language, share, expected", [
    ("en", 0.624, "62%"), ("cs", 0.624, f"62{NBSP}%"), ("pl", 0.6251, "62,5%"), ("ro", 0.624, f"62{NBSP}%"),
    ("sr", 0.0626, "6,3%"),
])
def test_percentages(language, share, expected):
    digits = 1 if expected.count(",") else 0
    with using(language):
        assert formats.pct(share, digits) == expected


@pytest.mark.parametrize("language, day, month_name", [
    ("en", "Dec 3, 2026", "December 2026"), ("cs", "3. 12. 2026", "prosinec 2026"),
    ("pl", "3 gru 2026", "grudzień 2026"), ("ro", "3 dec. 2026", "decembrie 2026"),
    ("sr", "3. 12. 2026.", "decembar 2026"), ("sr-Cyrl", "3. 12. 2026.", "децембар 2026"),
])
def test_dates_and_month_names(language, day, month_name):
    with using(language):
        assert formats.date(dt.date(2026, 12, 3)) == day
        assert formats.month("2026-12-01") == month_name


def test_numbers_use_the_languages_separators():
    expected = {"en": "23,570.5", "cs": f"23{NBSP}570,5", "pl": f"23{NBSP}570,5", "ro": "23.570,5", "sr": "23.570,5"}
    for language, text in expected.items():
        with using(language):
            assert formats.number(23570.46, 1) == text
            assert formats.number(float("nan")) == formats.DASH


def test_language_is_a_validated_run_key():
    base = {"name": "demo", "data": "x.csv"}
    assert RunParams.from_mapping(base).language == "en"
    assert RunParams.from_mapping({**base, "language": "sr-Cyrl"}).language == "sr-Cyrl"
    with pytest.raises(ConfigError) as err:
        RunParams.from_mapping({**base, "language": "de"})
    assert "language" in str(err.value) and "cs" in str(err.value)


def test_currency_defaults_to_none_and_is_still_checked():
    base = {"name": "demo", "data": "x.csv"}
    assert RunParams.from_mapping(base).currency is None
    with pytest.raises(ConfigError):
        RunParams.from_mapping({**base, "currency": "euro"})


def test_cli_has_a_language_option():
    from segkit.cli import _parser

    sub = next(a for a in _parser()._actions if a.dest == "command").choices
    assert "--language" in {s for a in sub["segment"]._actions for s in a.option_strings}


# ---------------------------------------------------------------- figures
def _crowded_figure(language: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from segkit import plots

    with using(language):
        fig, axes = plt.subplots(1, 3, figsize=(9, 3))
        x = np.linspace(0, 1, 50)
        for ax in axes:
            ax.plot(x, x)
            plots._pct(ax, "x"), plots._pct(ax, "y")
            ax.xaxis.set_major_locator(plots.mticker.MultipleLocator(0.05))  # 21 labels in a third of 9 in
        fig2, ax2 = plt.subplots(figsize=(4, 3))
        ax2.bar(range(8), range(8))
        ax2.set_xticks(range(8), [f"a rather long segment name {i}" for i in range(8)])
        ax2.yaxis.set_major_formatter(plots.money_formatter("CZK"))
    return fig, fig2


@pytest.mark.parametrize("language", ["en", "cs"])
def test_declutter_leaves_no_tick_labels_on_top_of_each_other(language):
    import matplotlib.pyplot as plt

    from segkit import plots

    fig, fig2 = _crowded_figure(language)
    with using(language):
        assert plots.overlapping_ticks(fig) and plots.overlapping_ticks(fig2)  # the test figures are crowded
        plots.declutter(fig), plots.declutter(fig2)
        assert plots.overlapping_ticks(fig) == [] and plots.overlapping_ticks(fig2) == []
        assert len([t for t in fig.axes[0].get_xticklabels() if t.get_text()]) >= 3  # thinned, not emptied
    plt.close(fig), plt.close(fig2)


def test_segment_summary_and_exports_by_language(tmp_path, capsys):
    """`segkit segment --language cs` prints its summary in Czech; the exported files stay English."""
    import pandas as pd

    from segkit.cli import main

    from .test_cli import small_csv

    data = small_csv(tmp_path / "s.csv")
    common = ["--holdout-months", "3", "--k-range", "2", "3"]
    assert main(["segment", str(data), "--out", str(tmp_path / "en"), *common]) == 0
    english = capsys.readouterr().out
    assert main(["segment", str(data), "--out", str(tmp_path / "cs"), *common, "--language", "cs"]) == 0
    czech = capsys.readouterr().out
    assert "customers segmented" in english and "percentile tiers: VIP" in english
    assert "zákazník" in czech and "doporučené schéma" in czech and "percentilové úrovně: VIP" in czech
    assert "dobrý zákazník" in czech and "customers segmented" not in czech
    import json

    n = json.loads((tmp_path / "cs" / "run.json").read_text())["population"]["evaluated"]
    with using("cs"):
        assert formats.number(n) in czech
    en, cs = (pd.read_csv(tmp_path / d / "assignments.csv", dtype=str) for d in ("en", "cs"))
    pd.testing.assert_frame_equal(en, cs)  # the same identifiers and values, whatever the language
    assert set(cs["percentile_tier"].dropna()) <= {"VIP", "GOOD", "REGULAR", "INACTIVE"}


@pytest.mark.parametrize("language", ["en", "cs"])
def test_a_crosstab_of_two_schemes_names_its_axes_by_the_schemes_labels(language):
    """The report's "customers by segment in each pair of schemes" tables: the axes were the schemes'
    keys (``percentile_tiers``, ``rfm``), words a manager does not read."""
    import pandas as pd

    from segkit import notebook
    from segkit.i18n import _, segment_label
    from segkit.schemes import registry

    la = pd.Series(["VIP", "GOOD", "VIP"], name="percentile_tiers")
    lb = pd.Series(["Champions", "Lost", "Lost"], name="rfm")
    with using(language):
        out = notebook.crosstab_table(pd.crosstab(la, lb))
        assert out.index.name == _(registry.get("percentile_tiers").label)
        assert out.columns.name == _(registry.get("rfm").label)
        assert list(out.index) == [segment_label("GOOD"), segment_label("VIP")]
        assert list(out.columns) == [segment_label("Champions"), segment_label("Lost")]
    assert out.to_numpy().tolist() == [[0, 1], [1, 1]]
    with using("en"):
        assert notebook.crosstab_table(pd.crosstab(la, lb)).index.name == "Percentile tiers"
