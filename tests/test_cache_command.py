"""`edge-sdk cache info|prune|clear`: what the cache holds, pruning by last use and damage, and a clear
that removes only what the cache wrote."""

from __future__ import annotations

import json
import os
import time

from edge_sdk.cache import StepCache
from edge_sdk.cli import main

OLD, FRESH, DAMAGED = ("a1" * 32, "b2" * 32, "c3" * 32)


def _filled(tmp_path):
    cache = StepCache(tmp_path / "cache")
    for key in (OLD, FRESH, DAMAGED):
        cache.put(key, lambda tmp: ((tmp / "model.h5").write_bytes(b"w" * 100), (tmp / "record.json").write_text("{}")))
    forty_days_ago = time.time() - 40 * 86400
    os.utime(cache.directory / OLD[:2] / OLD / "record.json", (forty_days_ago, forty_days_ago))
    (cache.directory / DAMAGED[:2] / DAMAGED / "model.h5").write_bytes(b"truncated")
    (cache.directory / "notes.txt").write_text("a user's file in the wrong --dir")
    return cache


def test_info_lists_entries_sizes_and_damage(tmp_path, capsys):
    cache = _filled(tmp_path)
    assert main(["cache", "info", "--json", "--dir", str(cache.directory)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["entries"] == 3 and info["bytes"] > 300
    assert info["damaged"] == [{"key": DAMAGED, "damage": "model.h5 no longer matches its sha256"}]


def test_prune_removes_unused_and_damaged_entries_and_keeps_the_rest(tmp_path, capsys):
    cache = _filled(tmp_path)
    assert main(["cache", "prune", "--dir", str(cache.directory)]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    assert [e.key for e in cache.entries()] == [FRESH]
    assert main(["cache", "prune", "--older-than", "-1", "--dir", str(cache.directory)]) == 2


def test_a_hit_counts_as_use_so_prune_keeps_it(tmp_path):
    cache = _filled(tmp_path)
    assert cache.get(OLD) is not None
    cache.prune(30 * 86400)
    assert OLD in {e.key for e in cache.entries()}


def test_clear_removes_entries_locks_and_leftovers_but_not_other_files(tmp_path, capsys):
    cache = _filled(tmp_path)
    with cache.lock(FRESH):
        pass
    (cache.directory / FRESH[:2] / f".{FRESH[:12]}.x1y2z3").mkdir()  # a killed writer's temp dir
    assert main(["cache", "clear", "--dir", str(cache.directory)]) == 0
    assert "removed 3 entries" in capsys.readouterr().out
    assert sorted(p.name for p in cache.directory.iterdir()) == ["notes.txt"]
