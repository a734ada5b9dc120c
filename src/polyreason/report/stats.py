"""Mean and confidence interval over seeds (Student's t), without scipy.

A sweep has few seeds per setting (often 2-5), so the 95 % interval uses the t-distribution with n − 1
degrees of freedom, not the normal approximation: ``mean ± t(0.975, n − 1) · s / √n`` with ``s`` the sample
standard deviation.  With n = 3 the t factor is 4.30, more than twice the normal 1.96, which is the point:
three seeds pin a mean down far less than a normal interval would claim.  n = 1 has no interval.

The quantile is computed here (Simpson integration of the t density, then Newton's method) so the package
needs no scipy; the tests check it against scipy where scipy is installed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache


def t_pdf(x: float, df: float) -> float:
    """Density of Student's t with ``df`` degrees of freedom."""
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - (df + 1) / 2 * math.log1p(x * x / df))


def t_cdf(x: float, df: float, intervals: int = 2000) -> float:
    """P(T ≤ x): ½ ± the density integrated from 0 to |x| (composite Simpson rule, ``intervals`` even)."""
    if x == 0:
        return 0.5
    a = abs(x)
    h = a / intervals
    total = t_pdf(0.0, df) + t_pdf(a, df)
    for i in range(1, intervals):
        total += (4 if i % 2 else 2) * t_pdf(i * h, df)
    half = total * h / 3
    return 0.5 + half if x > 0 else 0.5 - half


@lru_cache(maxsize=256)
def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (``0.5 < p < 1``), e.g. ``t_quantile(0.975, 2) ≈ 4.303``.

    Newton's method from below: the cdf is concave for x > 0, so every step stays below the root and the
    iteration converges monotonically (slowly only for df = 1's heavy tail: a few dozen steps).
    """
    if not 0.5 < p < 1:
        raise ValueError(f"t_quantile needs 0.5 < p < 1, got {p}")
    if df <= 0:
        raise ValueError(f"t_quantile needs df > 0, got {df}")
    x = 0.0
    for _ in range(200):
        step = (p - t_cdf(x, df)) / t_pdf(x, df)
        x += step
        if abs(step) < 1e-10 * max(1.0, x):
            break
    return x


@dataclass(frozen=True)
class Estimate:
    """Mean of ``n`` values with a two-sided confidence interval (``None`` when n < 2)."""

    mean: float
    low: float | None
    high: float | None
    n: int
    std: float | None

    def as_dict(self) -> dict[str, float | int | list[float] | None]:
        ci = None if self.low is None else [self.low, self.high]
        return {"mean": self.mean, "ci95": ci, "n": self.n, "std": self.std}


def mean_ci(values: list[float], level: float = 0.95) -> Estimate:
    """Mean and Student-t confidence interval of ``values`` (see the module docstring).

    >>> e = mean_ci([1.0, 2.0, 3.0]); round(e.mean, 3), round(e.high - e.mean, 3)
    (2.0, 2.484)
    """
    if not values:
        raise ValueError("mean_ci needs at least one value")
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Estimate(mean, None, None, n, None)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * std / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n, std)
