"""The worker pool shared by scans and feed rendering."""

from __future__ import annotations

import time

from bot.procpool import map_chunks


def slow_square(n: int) -> int:
    time.sleep(0.3)
    return n * n


def test_results_come_back_in_order() -> None:
    assert list(map_chunks(slow_square, range(6), 2)) == [0, 1, 4, 9, 16, 25]


def test_leaving_early_does_not_wait_for_the_whole_batch() -> None:
    started = time.monotonic()
    results = map_chunks(slow_square, range(40), 2)  # 40 x 0.3 s over 2 workers: 6 s if all ran
    assert next(results) == 0
    results.close()  # a cancelled scan stops reading
    assert time.monotonic() - started < 3.0
