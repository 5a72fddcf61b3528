"""Content-addressed cache for expensive build steps (QAT, pruning, clustering, distillation).

Why: a release pipeline rebuilds the same model many times; re-training the same step on the same
data with the same code yields the same model, so it is stored once under a key that changes when
anything it depends on changes: sha256 over (model hash, data fingerprint, step name + config, the
installed framework versions, a fingerprint of edge_sdk's own source). An entry is a directory holding the trained model in its framework's
own format (the frontend's `CacheFormat`: tf_keras `.h5`, torch ExportedProgram `.pt2`) and the step's
StepRecord as JSON, written into a temp dir and renamed into place, so an interrupted write never
leaves a half entry. Each entry also stores the sha256 of every file it holds (`sha256.json`), checked on
every read: a file truncated, swapped or edited after the write makes the entry a miss (evicted, said,
listed in `discarded`, counted in the report), never a shipped file. An entry the frontend refuses to load
(e.g. a Keras Lambda layer: code from the file) is recomputed instead.

Default location: `$EDGE_SDK_CACHE_DIR`, else `.edge-sdk-cache/` in the project directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from edge_sdk.frameworks import FRONTENDS, CacheFormat
from edge_sdk.contracts.model import LoadedModel
from edge_sdk.contracts.records import StepRecord

ENV_VAR = "EDGE_SDK_CACHE_DIR"
DEFAULT_DIRNAME = ".edge-sdk-cache"
RECORD_FILE = "record.json"
MANIFEST_FILE = "sha256.json"


def default_cache_dir(project_dir: str | Path) -> Path:
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path(project_dir) / DEFAULT_DIRNAME


def cache_key(model_hash: str, data_fingerprint: str, step: Any, config: Any = None,
              versions: Optional[dict[str, str]] = None) -> str:
    """sha256 hex over the canonical JSON of everything a step's result depends on."""
    if versions is None:
        from edge_sdk.deps import versions as installed

        versions = {**installed(), "edge-sdk-code": code_fingerprint()}
    payload = {"model": model_hash, "data": data_fingerprint, "step": step, "config": config, "versions": versions}
    text = json.dumps(payload, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over edge_sdk's own source files. The version number alone did not change when the code
    did (a development checkout, a patched install), and the cache then served attempts verified by
    the old code."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class StepCache:
    """get/put of entry directories by key; get_step/put_step store and restore trained models."""

    def __init__(self, directory: str | Path, enabled: bool = True, say: Callable[[str], None] | None = None):
        self.directory = Path(directory)
        self.enabled = enabled
        self.say = say or (lambda _: None)
        self.hits = 0
        self.misses = 0
        self.discarded: list[str] = []  # why each damaged entry was discarded (a file no longer matching its sha256)

    def _entry(self, key: str) -> Path:
        if len(key) < 8 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"cache key must be a hex digest, got {key!r}")
        return self.directory / key[:2] / key

    def get(self, key: str, label: str = "") -> Optional[Path]:
        """The entry dir for `key` when present and complete, else None (counts and says hit/miss)."""
        if not self.enabled:
            return None
        what = f"{label} " if label else ""
        if self.has(key):
            self.hits += 1
            self.say(f"cache hit: {what}({key[:12]})")
            os.utime(self._entry(key) / RECORD_FILE)  # last use, what `prune` ages entries by
            return self._entry(key)
        self.misses += 1
        self.say(f"cache miss: {what}({key[:12]})")
        return None

    def has(self, key: str) -> bool:
        """An intact entry is stored for `key`; a damaged one is evicted here (and counted)."""
        entry = self._entry(key)
        if not self.enabled or not (entry / RECORD_FILE).is_file():
            return False
        damage = _damage(entry)
        if damage is None:
            return True
        self.discarded.append(f"cache entry {key[:12]} discarded: {damage}; rebuilding it")
        self.say(self.discarded[-1])
        self.evict(key)
        return False

    def put(self, key: str, writer: Callable[[Path], None]) -> Optional[Path]:
        """Run writer(tmp_dir) and rename tmp_dir to the entry atomically; the first writer wins."""
        if not self.enabled:
            return None
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", dir=entry.parent))
        try:
            writer(tmp)
            if not (tmp / RECORD_FILE).is_file():
                raise ValueError(f"cache writer for {key[:12]} wrote no {RECORD_FILE}")
            (tmp / MANIFEST_FILE).write_text(json.dumps(_digests(tmp), indent=1, sort_keys=True))
            try:
                os.rename(tmp, entry)
            except OSError:
                if not (entry / RECORD_FILE).is_file():  # not a concurrent identical write: a real failure
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return entry

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Hold `key` exclusively across processes while computing it: a second task needing the same
        step waits and then reads the stored result instead of training it again. The OS releases the
        lock when its holder dies, so a crashed worker never blocks the others."""
        path = self.directory / "locks" / f"{self._entry(key).name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def evict(self, key: str) -> None:
        shutil.rmtree(self._entry(key), ignore_errors=True)

    # -- maintenance (`edge-sdk cache info|prune|clear`) ---------------------------------------

    def entries(self) -> list[CacheEntry]:
        """Every stored entry, with its size, last use and damage (None when intact)."""
        found = []
        for path in sorted(self.directory.glob("[0-9a-f][0-9a-f]/*")):
            if path.is_dir() and _is_key(path.name) and (path / RECORD_FILE).is_file():
                size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
                found.append(CacheEntry(path.name, path, size, (path / RECORD_FILE).stat().st_mtime, _damage(path)))
        return found

    def prune(self, older_than_s: float, now: float | None = None) -> list[CacheEntry]:
        """Remove entries not used for `older_than_s` seconds, damaged entries, and temp dirs a killed
        writer left (older than an hour: a live writer's stay); returns the removed entries."""
        now = time.time() if now is None else now
        removed = [e for e in self.entries() if e.damage is not None or now - e.last_used > older_than_s]
        for entry in removed:
            shutil.rmtree(entry.path, ignore_errors=True)
        for tmp in self.directory.glob("[0-9a-f][0-9a-f]/.*"):
            if tmp.is_dir() and now - tmp.stat().st_mtime > 3600:
                shutil.rmtree(tmp, ignore_errors=True)
        return removed

    def clear(self) -> int:
        """Remove every entry, temp dir and lock file (only what the cache itself writes: a wrong
        --dir never loses a user's files); returns the number of entries removed."""
        count = sum(1 for path in self.directory.glob("[0-9a-f][0-9a-f]/*") if _is_key(path.name))  # no hashing
        for sub in [*self.directory.glob("[0-9a-f][0-9a-f]"), self.directory / "locks"]:
            if sub.is_dir() and all(_is_key(p.name.lstrip(".").split(".")[0]) or p.suffix == ".lock" for p in sub.iterdir()):
                shutil.rmtree(sub, ignore_errors=True)
        return count


    # -- trained models ------------------------------------------------------------------------

    def put_step(self, key: str, model: LoadedModel, record: StepRecord) -> Optional[Path]:
        def write(tmp: Path) -> None:
            path = save_model(model, tmp)
            meta = {"framework": model.framework, "model_file": path.name, "record": record.to_dict()}
            (tmp / RECORD_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=repr))

        return self.put(key, write)

    def get_record(self, key: str) -> Optional[StepRecord]:
        """The StepRecord of a stored step without loading its model (None if absent or unreadable)."""
        try:
            return StepRecord.from_dict(json.loads((self._entry(key) / RECORD_FILE).read_text())["record"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def get_step(self, key: str, template: LoadedModel, label: str = "") -> Optional[tuple[LoadedModel, StepRecord]]:
        """The cached (model, record); `template` supplies specs/paths (the step's input model).

        An unreadable entry (e.g. written by a crashed process on another filesystem) is evicted and
        counted as a miss, never an error: the step is simply recomputed.
        """
        entry = self.get(key, label)
        if entry is None:
            return None
        try:
            meta = json.loads((entry / RECORD_FILE).read_text())
            handle = _cache_format(meta["framework"]).load(entry / meta["model_file"])
            record = StepRecord.from_dict(meta["record"])
        except Exception as exc:  # noqa: BLE001 - any damage means "recompute", which is always safe
            self.hits -= 1
            self.misses += 1
            self.say(f"cache entry {key[:12]} unreadable ({exc.__class__.__name__}); recomputing")
            self.evict(key)
            return None
        return dataclasses.replace(template, handle=handle), record


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    key: str
    path: Path
    bytes: int
    last_used: float  # epoch seconds of the last write or hit
    damage: str | None  # why its files no longer match their sha256, or None


def _is_key(name: str) -> bool:
    return len(name) >= 8 and all(c in "0123456789abcdef" for c in name)


def _digests(entry: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file of an entry but the manifest itself."""
    return {path.relative_to(entry).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(entry.rglob("*")) if path.is_file() and path.name != MANIFEST_FILE}


def _damage(entry: Path) -> str | None:
    """What no longer matches the entry's manifest (a file changed, missing or added), or None."""
    try:
        stored = json.loads((entry / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return f"no readable {MANIFEST_FILE}"
    now = _digests(entry)
    for name in sorted(set(stored) | set(now)):
        if name not in now:
            return f"{name} is missing"
        if name not in stored:
            return f"{name} was added after the entry was written"
        if now[name] != stored[name]:
            return f"{name} no longer matches its sha256"
    return None


def save_model(model: LoadedModel, directory: Path) -> Path:
    """Write `model` in its framework's cache format into `directory`; returns the file."""
    stored = _cache_format(model.framework)
    stored.save(model.handle, directory / stored.file)
    return directory / stored.file


def _cache_format(framework: str) -> CacheFormat:
    stored = FRONTENDS.get(framework).cache
    if stored is None:
        raise ValueError(f"cannot cache a {framework} model")
    return stored
