"""Reports on runs: cost accounting, comparison tables over seeds, plots and a self-contained HTML page.

* :mod:`polyreason.report.cost`: wall time, devices, device-hours, tokens, peak memory, price estimate.
* :mod:`polyreason.report.stats`: mean and Student-t confidence interval over seeds.
* :mod:`polyreason.report.runs`: read a run, eval or sweep directory; flatten its headline metrics.
* :mod:`polyreason.report.compare`: the comparison table of a sweep (Markdown + JSON).
* :mod:`polyreason.report.plots` and :mod:`polyreason.report.html`: ``polyreason report`` (matplotlib, Agg).

Only ``cost`` is imported by training; nothing here imports torch.
"""
