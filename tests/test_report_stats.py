"""Student-t quantiles and mean ± CI over seeds (polyreason.report.stats)."""

from __future__ import annotations

import math

import pytest

from polyreason.report.stats import mean_ci, t_cdf, t_quantile

# Two-sided 95 % critical values t(0.975, df) as printed in statistics tables (3 decimals).
TABLE = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262, 10: 2.228, 19: 2.093, 30: 2.042, 120: 1.980}


@pytest.mark.parametrize("df,expected", sorted(TABLE.items()))
def test_t_quantile_matches_the_printed_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=6e-4)


def test_t_quantile_matches_scipy_to_six_digits():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 5, 7, 15, 40, 200):
        for p in (0.9, 0.95, 0.975, 0.995):
            assert t_quantile(p, df) == pytest.approx(float(stats.t.ppf(p, df)), rel=1e-6), (p, df)


def test_t_approaches_the_normal_and_cdf_is_symmetric():
    assert t_quantile(0.975, 10_000) == pytest.approx(1.95996, abs=1e-3)
    assert t_cdf(-2.0, 4) == pytest.approx(1 - t_cdf(2.0, 4), abs=1e-12)
    with pytest.raises(ValueError):
        t_quantile(0.4, 3)


def test_mean_ci_uses_t_with_n_minus_1_df():
    e = mean_ci([0.50, 0.55, 0.60])
    s = math.sqrt(((0.05) ** 2 + 0 + (0.05) ** 2) / 2)
    half = 4.302653 * s / math.sqrt(3)
    assert e.mean == pytest.approx(0.55) and e.n == 3 and e.std == pytest.approx(s)
    assert (e.low, e.high) == (pytest.approx(0.55 - half, abs=1e-6), pytest.approx(0.55 + half, abs=1e-6))
    assert e.as_dict()["ci95"] == [e.low, e.high]


def test_mean_ci_single_value_has_no_interval_and_constant_values_a_zero_width_one():
    single = mean_ci([3.0])
    assert single.mean == 3.0 and single.low is None and single.as_dict()["ci95"] is None
    flat = mean_ci([2.0, 2.0, 2.0])
    assert flat.low == flat.high == 2.0
    with pytest.raises(ValueError):
        mean_ci([])
