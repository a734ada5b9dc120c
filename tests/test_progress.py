"""Progress: fractional advances (per decoding step) move the count, rate and ETA; items count one unit each."""

from __future__ import annotations

import logging

import pytest

from polyreason.progress import Reporter, track


def test_log_lines_show_tokens_per_second_and_an_eta_mid_item(caplog, monkeypatch) -> None:
    monkeypatch.setenv("POLYREASON_PROGRESS", "0")
    with caplog.at_level(logging.INFO, logger="polyreason.progress"):
        with Reporter(4, description="generating", unit="samples", log_every_s=0.0) as report:
            report.advance(0.25, tokens=8)  # a quarter of a sample: one decoding step of a 4-row batch
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("generating: 0.2/4 samples (") and "tokens/s" in lines[0] and "ETA" in lines[0]
    assert report.done == 0.25 and report.tokens == 8


def test_items_count_one_unit_each_whatever_generation_reports(monkeypatch) -> None:
    monkeypatch.setenv("POLYREASON_PROGRESS", "0")
    report = Reporter(3, unit="batches")
    seen = []
    for i in report.items(range(3)):
        hook = report.share(4)
        if i == 0:
            hook(1.0, 5)  # reports a quarter, the rest is added when the item ends
        elif i == 1:
            hook(3.0, 5)
            hook(3.0, 5)  # reports more than the item holds (retries): capped at one unit
        seen.append(report.done)
    assert seen == pytest.approx([0.25, 2.0, 2.0]) and report.done == pytest.approx(3.0)
    assert report.tokens == 15
    assert list(track([1, 2], description="x")) == [1, 2]
