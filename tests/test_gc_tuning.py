"""GcTuning: thresholds and the frozen heap for the crawl, Python's own after it."""

import gc
from types import SimpleNamespace

from crawler.extensions import gc_tuning
from crawler.extensions.gc_tuning import GcTuning


def test_crawl_gets_its_thresholds_and_the_process_freezes_its_heap_at_exit(monkeypatch):
    at_exit: list = []
    monkeypatch.setattr(
        gc_tuning,
        "atexit",
        SimpleNamespace(
            register=at_exit.append,
            unregister=lambda function: at_exit.remove(function) if function in at_exit else None,
        ),
    )
    before = gc.get_threshold()
    tuning = GcTuning((10000, 10, 10))
    try:
        for _ in range(2):  # two crawls in one process
            tuning.engine_started()
            assert gc.get_threshold() == (10000, 10, 10) and gc.get_freeze_count() > 0
            tuning.engine_stopped()
            assert gc.get_threshold() == before and gc.get_freeze_count() == 0
        assert at_exit == [gc.freeze]  # once, however many crawls
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
