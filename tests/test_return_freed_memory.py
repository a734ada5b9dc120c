"""return_freed_memory: pages a finished stage freed go back to the OS before the next model loads (the
quickstart's peak memory is a stage's leftovers plus the evaluation model otherwise)."""

from __future__ import annotations

import os
import sys

import pytest

from polyreason.train.stages.base import return_freed_memory


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim and /proc are Linux")
def test_freed_heap_pages_are_returned_even_when_live_blocks_pin_the_heap():
    return_freed_memory()  # free pages from earlier tests: reused below, they are faulted in again
    before = _rss_mib()
    blocks = [bytes(4096) for _ in range(25_000)]  # ~100 MiB of malloc'd (not mmap'd) 4 KiB blocks
    pinned = blocks[::64]  # live blocks spread over the heap, so glibc cannot shrink it from the top
    del blocks
    freed_but_held = _rss_mib()
    assert freed_but_held - before > 60, "the blocks were not held by the heap; the test measures nothing"
    assert return_freed_memory() is True
    assert _rss_mib() - before < (freed_but_held - before) / 2
    assert len(pinned) == 391
