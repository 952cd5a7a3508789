"""The run store: SQLite (WAL) for runs and their metrics, safetensors files for their weights.

Layout of the store's folder (PLAYGROUND_HOME, default runs/ beside the app):

    playground.db                 runs, per-step loss, epoch records, lr marks, snapshots, layer
                                  statistics at each snapshot, drafts
    <run id>/run.json             the run's config, name and owner (enough to recover it without the db)
    <run id>/epoch-0007.safetensors   weight snapshots (model state dict) at epoch ends
    <run id>/checkpoint.safetensors   the latest resume point: model, optimizer, scheduler, RNG states

Readers use one connection per thread; the training stream is written by one Recorder thread per
process (store/recorder.py); page actions (rename, delete, drafts) write directly. WAL lets pages
read while a run is written, and busy_timeout lets the CLI and the app share one store.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from playground.models.budget import size_text
from playground.store.files import StoreError, load_tensors, load_tree, save_tensors, save_tree

SCHEMA_VERSION = 2                  # 2: per-step losses in chunks (one row per write, not one per step)
LIVE = ("pending", "queued", "starting", "running")          # a process is (or should be) working on it
ENDED = ("finished", "stopped", "diverged", "failed", "interrupted", "lost")
MB = 1_000_000                      # decimal, as size_text() writes sizes

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner TEXT,
    grp TEXT,                               -- the comparison it belongs to, if any
    config TEXT NOT NULL,                   -- RunConfig as JSON
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',          -- e.g. why snapshots stopped (a limit)
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,               -- heartbeat while a process records it
    ended_at REAL,
    epochs_done INTEGER NOT NULL DEFAULT 0,
    best_val_acc REAL,
    final_val_acc REAL,
    final_val_loss REAL,
    params INTEGER,
    progress TEXT NOT NULL DEFAULT '{}',
    diverged_at INTEGER,
    host TEXT,                              -- the process recording it while it is live
    pid INTEGER,
    pid_started REAL,
    ckpt_epoch INTEGER,                     -- the latest checkpoint: epoch in progress and step
    ckpt_step INTEGER,
    bytes INTEGER NOT NULL DEFAULT 0,       -- disk use of its files
    lesson TEXT                             -- the lesson it was started in, if any
);
CREATE INDEX IF NOT EXISTS runs_owner ON runs(owner, created_at);
CREATE INDEX IF NOT EXISTS runs_lesson ON runs(lesson, created_at);
CREATE TABLE IF NOT EXISTS step_chunks (run_id TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
                                        steps BLOB NOT NULL, losses BLOB NOT NULL);  -- int64 / float64 arrays
CREATE INDEX IF NOT EXISTS step_chunks_run ON step_chunks(run_id, first);
CREATE TABLE IF NOT EXISTS epochs (run_id TEXT NOT NULL, epoch INTEGER NOT NULL, step INTEGER NOT NULL,
                                   record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS epochs_run ON epochs(run_id, epoch);
CREATE TABLE IF NOT EXISTS marks (run_id TEXT NOT NULL, step INTEGER NOT NULL, samples INTEGER NOT NULL,
                                  time_s REAL NOT NULL, lr REAL);
CREATE INDEX IF NOT EXISTS marks_run ON marks(run_id, step);
CREATE TABLE IF NOT EXISTS snapshots (
    run_id TEXT NOT NULL, epoch INTEGER NOT NULL, step INTEGER NOT NULL, partial INTEGER NOT NULL DEFAULT 0,
    file TEXT NOT NULL, bytes INTEGER NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS stats (run_id TEXT NOT NULL, epoch INTEGER NOT NULL, step INTEGER NOT NULL,
                                  record TEXT NOT NULL, PRIMARY KEY (run_id, step));  -- layer statistics
CREATE TABLE IF NOT EXISTS drafts (owner TEXT NOT NULL, page TEXT NOT NULL, state TEXT NOT NULL,
                                   updated_at REAL NOT NULL, PRIMARY KEY (owner, page));
CREATE TABLE IF NOT EXISTS people (owner TEXT PRIMARY KEY, name TEXT NOT NULL);  -- display names, not secrets
CREATE TABLE IF NOT EXISTS shared (id TEXT PRIMARY KEY, config TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS lessons (id TEXT PRIMARY KEY, spec TEXT NOT NULL, created_at REAL NOT NULL,
                                    updated_at REAL NOT NULL);  -- a Lesson as JSON (playground/lessons.py)
"""


@dataclass
class RunRow:
    """One stored run, as the Runs page and the CLI list it."""
    id: str
    name: str
    owner: str | None
    group: str | None
    config: dict
    status: str
    message: str
    note: str
    created_at: float
    updated_at: float
    ended_at: float | None
    epochs_done: int
    best_val_acc: float | None
    final_val_acc: float | None
    final_val_loss: float | None
    params: int | None
    progress: dict
    diverged_at: int | None
    ckpt_epoch: int | None
    ckpt_step: int | None
    bytes: int
    extra: dict = field(default_factory=dict)
    lesson: str | None = None

    @property
    def epochs_total(self) -> int:
        return int(self.config.get("epochs", 0))

    def summary(self) -> dict:
        """A flat, JSON-able description (what `python -m playground runs --json` prints)."""
        c = self.config
        layers = c.get("layers", [])
        o = c.get("optim", {})
        return {"id": self.id, "name": self.name, "owner": self.owner, "status": self.status,
                "data": c.get("data", {}).get("name"), "network": network_text(layers), "params": self.params,
                "optimizer": o.get("name"), "lr": o.get("lr"), "batch_size": c.get("batch_size"),
                "epochs": self.epochs_done, "epochs_total": self.epochs_total, "best_val_acc": self.best_val_acc,
                "final_val_acc": self.final_val_acc, "final_val_loss": self.final_val_loss,
                "created_at": self.created_at, "ended_at": self.ended_at, "message": self.message,
                "note": self.note, "resumable_from_epoch": None if self.ckpt_epoch is None else self.ckpt_epoch - 1,
                "group": self.group, "bytes": self.bytes}


def network_text(layers: list) -> str:
    """Conv2d(8)·ReLU·MaxPool2d·... : the layer types, with widths where they say most."""
    parts = []
    for layer in layers:
        t = layer.get("type", "?")
        width = layer.get("out_features", layer.get("out_channels"))
        parts.append(f"{t}({width})" if width is not None else t)
    return " · ".join(parts)


@dataclass
class Snapshot:
    epoch: int
    step: int
    partial: bool
    file: str
    bytes: int


def _pid_start(pid: int) -> float | None:
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:                        # no such process, or no permission to look
        return None


HOST = socket.gethostname()
PID = os.getpid()


class Store:
    """One store folder. Thread-safe: each thread gets its own SQLite connection."""

    def __init__(self, home: str | Path, max_run_mb: float | None = None, max_total_mb: float | None = None):
        self.home = Path(home).resolve()
        self.db_path = self.home / "playground.db"
        env = os.environ.get
        run_mb = max_run_mb if max_run_mb is not None else float(env("PLAYGROUND_MAX_RUN_MB", "200"))
        self.max_run_bytes = int(run_mb * MB)
        self.max_total_bytes = int((max_total_mb if max_total_mb is not None
                                    else float(env("PLAYGROUND_MAX_STORE_MB", "2000"))) * MB)
        self.warnings: list[str] = []          # what went wrong opening it (a damaged database), for the app
        self._local = threading.local()
        self._pid_started = _pid_start(PID)
        self.home.mkdir(parents=True, exist_ok=True)
        self._open_checked()

    # ------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=10.0, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA busy_timeout = 10000")
        con.execute("PRAGMA synchronous = NORMAL")     # WAL + NORMAL: durable at checkpoints, never corrupt
        return con

    @property
    def con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self._connect()
        return con

    @contextmanager
    def tx(self):
        """One write transaction (BEGIN IMMEDIATE: take the write lock at once, wait for it if busy)."""
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def _open_checked(self) -> None:
        """Open (or create) the database; a damaged one is moved aside, never overwritten, and the
        runs are recovered from their folders' run.json."""
        try:
            con = self._connect()
            con.execute("PRAGMA journal_mode = WAL")
            ok = con.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise sqlite3.DatabaseError(ok)
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"the run store {self.db_path} was written by a newer Training Playground "
                                 f"(schema {version}, this one reads {SCHEMA_VERSION}); update this copy, or set "
                                 f"PLAYGROUND_HOME to another folder")
            _add_columns(con)
            con.executescript(SCHEMA)
            _migrate(con)
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.close()
        except sqlite3.DatabaseError as e:
            try:
                con.close()
            except Exception:
                pass
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = self.db_path.with_name(f"{self.db_path.name}.damaged-{stamp}")
            for suffix in ("", "-wal", "-shm"):
                p = Path(str(self.db_path) + suffix)
                if p.exists():
                    os.replace(p, Path(str(aside) + suffix))
            con = self._connect()
            con.execute("PRAGMA journal_mode = WAL")
            con.executescript(SCHEMA)
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.close()
            n = self.recover_from_folders()
            self.warnings.append(
                f"The run store's database {self.db_path} could not be read ({e}). It was moved to {aside.name} "
                f"(kept, not deleted) and a new one started; {n} run(s) were recovered from their folders with "
                f"their configs and weight snapshots (their curves were in the damaged file).")

    def recover_from_folders(self) -> int:
        """Re-list runs whose folder has a run.json but that the database does not know."""
        n = 0
        for manifest in sorted(self.home.glob("*/run.json")):
            try:
                m = json.loads(manifest.read_text())
                rid = m["id"]
            except (ValueError, KeyError, OSError):
                continue
            if self.get(rid) is not None:
                continue
            folder = manifest.parent
            snaps = []
            for f in sorted(folder.glob("epoch-*.safetensors")):
                try:
                    _, meta = load_tensors(f, "snapshot")
                except StoreError:
                    continue
                snaps.append((int(meta.get("epoch", 0)), int(meta.get("step", 0)), int(bool(meta.get("partial"))),
                              f.name, f.stat().st_size))
            now = time.time()
            with self.tx() as con:
                con.execute("INSERT INTO runs (id, name, owner, grp, config, status, message, created_at, updated_at, "
                            "ended_at, epochs_done, params) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                            (rid, m.get("name", rid), m.get("owner"), m.get("group"), json.dumps(m["config"]),
                             "interrupted", "recovered from its folder after the database was damaged; its curves "
                             "were lost", m.get("created_at", now), now, now,
                             max((s[0] for s in snaps), default=0), m.get("params")))
                con.executemany("INSERT OR REPLACE INTO snapshots VALUES (?,?,?,?,?,?,?)",
                                [(rid, *s, now) for s in snaps])
            self._refresh_bytes(rid)
            n += 1
        return n

    # ------------------------------------------------------------------ runs
    def run_dir(self, run_id: str) -> Path:
        return self.home / run_id

    def create(self, run_id: str, name: str, config: dict, owner: str | None, group: str | None = None,
               params: int | None = None, status: str = "pending", lesson: str | None = None) -> None:
        now = time.time()
        folder = self.run_dir(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        manifest = {"id": run_id, "name": name, "owner": owner, "group": group, "config": config,
                    "created_at": now, "params": params, "lesson": lesson}
        tmp = folder / ".run.json.tmp"
        size = tmp.write_bytes(json.dumps(manifest, indent=1).encode())
        os.replace(tmp, folder / "run.json")
        with self.tx() as con:
            con.execute("INSERT INTO runs (id, name, owner, grp, config, status, created_at, updated_at, params, host, "
                        "pid, pid_started, lesson, bytes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (run_id, name, owner, group, json.dumps(config), status, now, now, params, HOST, PID,
                         self._pid_started, lesson, size))

    def claim(self, run_id: str, **fields) -> None:
        """This process records the run from now on (a resume): host, pid and heartbeat, plus fields."""
        self.update(run_id, host=HOST, pid=PID, pid_started=self._pid_started, ended_at=None, **fields)

    def update(self, run_id: str, **fields) -> None:
        if not fields:
            return
        fields.setdefault("updated_at", time.time())
        for k in ("config", "progress"):
            if k in fields and not isinstance(fields[k], str):
                fields[k] = json.dumps(fields[k])
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.tx() as con:
            con.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*fields.values(), run_id))

    def _row(self, r: sqlite3.Row) -> RunRow:
        return RunRow(id=r["id"], name=r["name"], owner=r["owner"], group=r["grp"], config=json.loads(r["config"]),
                      status=r["status"], message=r["message"], note=r["note"], created_at=r["created_at"],
                      updated_at=r["updated_at"], ended_at=r["ended_at"], epochs_done=r["epochs_done"],
                      best_val_acc=r["best_val_acc"], final_val_acc=r["final_val_acc"],
                      final_val_loss=r["final_val_loss"], params=r["params"],
                      progress=json.loads(r["progress"] or "{}"),
                      diverged_at=r["diverged_at"], ckpt_epoch=r["ckpt_epoch"], ckpt_step=r["ckpt_step"],
                      bytes=r["bytes"], extra={"host": r["host"], "pid": r["pid"], "pid_started": r["pid_started"]},
                      lesson=r["lesson"])

    def get(self, run_id: str) -> RunRow | None:
        r = self.con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self._settle(self._row(r)) if r else None

    def list(self, owner: str | None = None, group: str | None = None, limit: int | None = None,
             lesson: str | None = None) -> list[RunRow]:
        """Stored runs, newest first: all, or one owner's, one lesson's, or one comparison's (in start order)."""
        where = [(col, v) for col, v in (("owner", owner), ("grp", group), ("lesson", lesson)) if v is not None]
        q = "SELECT * FROM runs" + (" WHERE " + " AND ".join(f"{col} = ?" for col, _ in where) if where else "")
        args = [v for _, v in where]
        q += " ORDER BY created_at ASC, rowid ASC" if group is not None else " ORDER BY created_at DESC, rowid DESC"
        if limit:
            q += f" LIMIT {int(limit)}"
        return [self._settle(self._row(r)) for r in self.con.execute(q, args).fetchall()]

    def find(self, ref: str) -> RunRow:
        """A run by id, unique id prefix or exact name; StoreError that lists candidates otherwise. A
        blank reference names no run, and '%' or '_' in one are letters, not LIKE's wildcards."""
        row = self.get(ref)
        if row is not None:
            return row
        prefix = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = [] if not ref.strip() else self.con.execute(
            "SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' OR name = ? ORDER BY created_at DESC",
            (prefix, ref)).fetchall()
        if len(rows) == 1:
            return self._settle(self._row(rows[0]))
        if not rows:
            raise StoreError(f"no stored run matches '{ref}'; give a run's id, a unique start of it or its exact "
                             f"name (list them with: python -m playground runs)")
        ids = ", ".join(f"{r['id']} ({r['name']})" for r in rows[:6])
        raise StoreError(f"'{ref}' matches {len(rows)} runs: {ids}; give more of the id")

    def _settle(self, row: RunRow) -> RunRow:
        """A run that says it is live but whose recording process is gone was interrupted: say so
        (and store it), with the epoch it can resume from."""
        if row.status not in LIVE:
            return row
        ex = row.extra
        same_host = ex["host"] == HOST
        if same_host and ex["pid"] == PID and (ex["pid_started"] is None or self._pid_started is None or
                                               abs(self._pid_started - ex["pid_started"]) < 1.0):
            return row                        # this process records it (no /proc read: a listing does this per row)
        started = _pid_start(ex["pid"]) if same_host and ex["pid"] is not None else None
        alive = started is not None and (ex["pid_started"] is None or abs(started - ex["pid_started"]) < 1.0)
        stale = time.time() - row.updated_at > 60
        if alive or (not same_host and not stale):
            return row
        at = row.epochs_done
        resume = (f"it can resume from epoch {row.ckpt_epoch - 1} (its last checkpoint)" if row.ckpt_epoch
                  else "it ended before its first checkpoint, so it cannot resume: start it again")
        row.status = "interrupted"
        row.message = (f"interrupted at epoch {at}: the process training it stopped (the server was shut down "
                       f"or crashed); {resume}")
        try:
            with self.tx() as con:
                con.execute("UPDATE runs SET status = ?, message = ?, ended_at = COALESCE(ended_at, ?) "
                            "WHERE id = ? AND status IN (%s)" % ",".join("?" * len(LIVE)),
                            (row.status, row.message, row.updated_at, row.id, *LIVE))
        except sqlite3.OperationalError:          # read-only or busy: the next reader will store it
            pass
        return row

    def rename(self, run_id: str, name: str) -> None:
        name = name.strip()
        if not name:
            raise StoreError("a run's name cannot be empty")
        if len(name) > 120:
            raise StoreError(f"a run's name can have at most 120 characters, this one has {len(name)}")
        self.update(run_id, name=name)
        self._rewrite_manifest(run_id, name=name)

    def _rewrite_manifest(self, run_id: str, **fields) -> None:
        path = self.run_dir(run_id) / "run.json"
        try:
            m = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        m.update(fields)
        tmp = path.with_name(".run.json.tmp")
        tmp.write_text(json.dumps(m, indent=1))
        os.replace(tmp, path)

    def delete(self, run_id: str) -> None:
        with self.tx() as con:
            for table in ("step_chunks", "epochs", "marks", "snapshots", "stats"):
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    # ------------------------------------------------------------------ metrics
    def append_metrics(self, writes: dict[str, dict]) -> None:
        """For each run (run id -> what its history gained, History.delta's second half): new per-step
        losses (one chunk), epoch records and lr marks, or a rewrite of a series the in-memory history
        has compacted, and run fields (status, progress, ...). One transaction for all: the recorder's
        pass over every live run costs one commit and a row per run, however many steps they took."""
        if not writes:
            return
        now = time.time()
        with self.tx() as con:
            for run_id, w in writes.items():
                fields = dict(w.get("fields") or {})
                fields.setdefault("updated_at", now)
                for k in ("progress", "config"):
                    if k in fields and not isinstance(fields[k], str):
                        fields[k] = json.dumps(fields[k])
                if w.get("replace_steps"):
                    con.execute("DELETE FROM step_chunks WHERE run_id = ?", (run_id,))
                if w.get("replace_marks"):
                    con.execute("DELETE FROM marks WHERE run_id = ?", (run_id,))
                xs, losses = w.get("step_x", ()), w.get("step_loss", ())
                if len(xs):
                    con.execute("INSERT INTO step_chunks VALUES (?,?,?,?,?)", _chunk(run_id, xs, losses))
                con.executemany("INSERT INTO epochs VALUES (?,?,?,?)",
                                ((run_id, e["epoch"], e["step"], json.dumps(e)) for e in w.get("epochs", ())))
                con.executemany("INSERT INTO marks VALUES (?,?,?,?,?)", ((run_id, *m) for m in w.get("marks", ())))
                cols = ", ".join(f"{k} = ?" for k in fields)
                con.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*fields.values(), run_id))

    def _steps(self, run_id: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self.con.execute("SELECT steps, losses FROM step_chunks WHERE run_id = ? ORDER BY first",
                                (run_id,)).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        return (np.concatenate([np.frombuffer(r[0], np.int64) for r in rows]),
                np.concatenate([np.frombuffer(r[1], np.float64) for r in rows]))

    def metrics(self, run_id: str) -> dict:
        """step_x, step_loss, epochs, marks of a stored run."""
        con = self.con
        xs, losses = self._steps(run_id)
        epochs = [json.loads(r[0]) for r in
                  con.execute("SELECT record FROM epochs WHERE run_id = ? ORDER BY epoch, step", (run_id,))]
        marks = [tuple(r) for r in con.execute("SELECT step, samples, time_s, lr FROM marks WHERE run_id = ? "
                                               "ORDER BY step", (run_id,))]
        return {"step_x": xs.tolist(), "step_loss": losses.tolist(), "epochs": epochs, "marks": marks}

    def truncate(self, run_id: str, step: int, epoch: int) -> None:
        """Forget what a run recorded after `step` (a resume from the checkpoint there), and epoch
        records from `epoch` on (the epoch in progress at that checkpoint restarts from there)."""
        drop = [s for s in self.snapshots(run_id) if s.step > step or s.partial]
        with self.tx() as con:
            for first, xs, losses in con.execute("SELECT first, steps, losses FROM step_chunks WHERE run_id = ? "
                                                 "AND last > ?", (run_id, step)).fetchall():
                con.execute("DELETE FROM step_chunks WHERE run_id = ? AND first = ?", (run_id, first))
                xs, losses = np.frombuffer(xs, np.int64), np.frombuffer(losses, np.float64)
                keep = xs <= step
                if keep.any():                  # the chunk the checkpoint falls in keeps its head
                    con.execute("INSERT INTO step_chunks VALUES (?,?,?,?,?)", _chunk(run_id, xs[keep], losses[keep]))
            con.execute("DELETE FROM marks WHERE run_id = ? AND step > ?", (run_id, step))
            con.execute("DELETE FROM epochs WHERE run_id = ? AND epoch >= ?", (run_id, epoch))
            con.executemany("DELETE FROM snapshots WHERE run_id = ? AND step = ?", [(run_id, s.step) for s in drop])
            con.execute("DELETE FROM stats WHERE run_id = ? AND step > ?", (run_id, step))
        for s in drop:
            (self.run_dir(run_id) / s.file).unlink(missing_ok=True)
        self._refresh_bytes(run_id)

    # ------------------------------------------------------------------ layer statistics
    def write_stats(self, run_id: str, record: dict) -> None:
        """Layer statistics taken at a snapshot (playground.train.probe). Kept for every snapshot
        ever taken, also where thinning later drops the weights: they are small."""
        with self.tx() as con:
            con.execute("INSERT OR REPLACE INTO stats VALUES (?,?,?,?)",
                        (run_id, record["epoch"], record["step"], json.dumps(record)))

    def stats_marker(self, run_id: str) -> tuple[int, int]:
        """(records, newest step): changes whenever a record is added (a cache key for readers)."""
        n, step = self.con.execute("SELECT COUNT(*), COALESCE(MAX(step), -1) FROM stats WHERE run_id = ?",
                                   (run_id,)).fetchone()
        return int(n), int(step)

    def stats(self, run_id: str) -> list[dict]:
        """The run's layer statistics records, by step (a resumed epoch's newer record replaces the older)."""
        rows = self.con.execute("SELECT record FROM stats WHERE run_id = ? ORDER BY step", (run_id,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    # ------------------------------------------------------------------ weights
    def snapshots(self, run_id: str) -> list[Snapshot]:
        rows = self.con.execute("SELECT epoch, step, partial, file, bytes FROM snapshots WHERE run_id = ? "
                                "ORDER BY step", (run_id,)).fetchall()
        return [Snapshot(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    def usage(self) -> int:
        """Bytes the store's files take (the database and every run's files)."""
        total = self.con.execute("SELECT COALESCE(SUM(bytes), 0) FROM runs").fetchone()[0]
        for suffix in ("", "-wal"):
            p = Path(str(self.db_path) + suffix)
            total += p.stat().st_size if p.exists() else 0
        return int(total)

    def _refresh_bytes(self, run_id: str) -> int:
        folder = self.run_dir(run_id)
        n = sum(f.stat().st_size for f in folder.glob("*") if f.is_file()) if folder.exists() else 0
        with self.tx() as con:
            con.execute("UPDATE runs SET bytes = ? WHERE id = ?", (n, run_id))
        return n

    def write_snapshot(self, run_id: str, epoch: int, step: int, partial: bool, weights: dict,
                       budget: int, reserve: int = 0) -> str | None:
        """Write a snapshot unless a limit forbids it; thin the run's snapshots to `budget` (never
        the first, the newest, or a final one). reserve: bytes the run's checkpoint will take (it is
        always written: resume needs it). Returns a note when a limit stopped it, else None."""
        from playground.store.policy import thin

        size = sum(t.numel() * t.element_size() for t in weights.values()) + 4096
        row = self.con.execute("SELECT bytes FROM runs WHERE id = ?", (run_id,)).fetchone()
        run_bytes = row[0] if row else 0          # kept current: every write below refreshes it
        ckpt = self.run_dir(run_id) / "checkpoint.safetensors"
        ckpt_now = ckpt.stat().st_size if ckpt.exists() else 0
        if self.usage() + size > self.max_total_bytes:
            return (f"snapshots stopped at epoch {epoch}: the run store {self.home} holds "
                    f"{size_text(self.usage())} of its {size_text(self.max_total_bytes)} "
                    f"(PLAYGROUND_MAX_STORE_MB); delete old runs on the Runs page to make room")
        if run_bytes - ckpt_now + max(ckpt_now, reserve) + size > self.max_run_bytes:
            return (f"snapshots stopped at epoch {epoch}: this run's files reached {size_text(run_bytes)} of the "
                    f"{size_text(self.max_run_bytes)} a run may use (PLAYGROUND_MAX_RUN_MB)")
        if shutil.disk_usage(self.home).free < 2 * size + 50 * MB:
            return f"snapshots stopped at epoch {epoch}: the disk holding {self.home} is nearly full"
        name = f"epoch-{epoch:05d}{'-partial' if partial else ''}.safetensors"
        try:
            n = save_tensors(self.run_dir(run_id) / name, weights,
                             {"run": run_id, "epoch": epoch, "step": step, "partial": partial})
        except OSError as e:
            return f"snapshots stopped at epoch {epoch}: writing {name} failed ({e})"
        # One transaction: the row, the thinning, and the run's bytes moved by what was written and
        # freed (a rescan of the run's folder per snapshot cost ~1 ms of the server's time; the
        # checkpoint's write still rescans, and so corrects any drift).
        with self.tx() as con:
            old = con.execute("SELECT file, bytes FROM snapshots WHERE run_id = ? AND step = ?",
                              (run_id, step)).fetchone()
            con.execute("INSERT OR REPLACE INTO snapshots VALUES (?,?,?,?,?,?,?)",
                        (run_id, epoch, step, int(partial), name, n, time.time()))
            snaps = self.snapshots(run_id)
            finals = {s.epoch for s in snaps if s.partial}
            drop = set(thin([s.epoch for s in snaps if not s.partial], budget, keep=finals))
            gone = [s for s in snaps if s.epoch in drop and not s.partial]
            con.executemany("DELETE FROM snapshots WHERE run_id = ? AND step = ?", [(run_id, s.step) for s in gone])
            freed = (old[1] if old else 0) + sum(s.bytes for s in gone)     # a replaced file's bytes go too
            con.execute("UPDATE runs SET bytes = bytes + ? WHERE id = ?", (n - freed, run_id))
        for file in ([old[0]] if old and old[0] != name else []) + [s.file for s in gone]:
            (self.run_dir(run_id) / file).unlink(missing_ok=True)
        return None

    def load_weights(self, run_id: str, epoch: int | None = None) -> tuple[dict, Snapshot]:
        """The model state dict of the snapshot at `epoch` (the nearest earlier one if that epoch has
        none; None = the latest), and which snapshot it is."""
        snaps = self.snapshots(run_id)
        if not snaps:
            raise StoreError(f"run {run_id} has no weight snapshot yet: the first is written when its first "
                             f"epoch ends (epoch 0, the initial weights, when it starts)")
        if epoch is None:
            snap = snaps[-1]
        else:
            earlier = [s for s in snaps if s.epoch <= epoch]
            snap = earlier[-1] if earlier else snaps[0]
        tensors, _ = load_tensors(self.run_dir(run_id) / snap.file,
                                  f"the snapshot of run {run_id} at epoch {snap.epoch}")
        return tensors, snap

    def write_checkpoint(self, run_id: str, ckpt: dict) -> None:
        """Replace the run's checkpoint (atomically) and note where it stands."""
        pos = ckpt["position"]
        save_tree(self.run_dir(run_id) / "checkpoint.safetensors", ckpt, {"run": run_id, "kind": "checkpoint"})
        self.update(run_id, ckpt_epoch=pos["epoch"], ckpt_step=pos["step"])
        self._refresh_bytes(run_id)

    def load_checkpoint(self, run_id: str) -> dict | None:
        path = self.run_dir(run_id) / "checkpoint.safetensors"
        if not path.exists():
            return None
        ckpt, _ = load_tree(path, f"the checkpoint of run {run_id}")
        return ckpt

    # ------------------------------------------------------------------ drafts (what a browser was editing)
    def save_draft(self, owner: str, page: str, state: dict) -> None:
        with self.tx() as con:
            con.execute("INSERT OR REPLACE INTO drafts VALUES (?,?,?,?)", (owner, page, json.dumps(state), time.time()))

    def load_draft(self, owner: str, page: str) -> dict | None:
        r = self.con.execute("SELECT state FROM drafts WHERE owner = ? AND page = ?", (owner, page)).fetchone()
        return json.loads(r[0]) if r else None

    # ------------------------------------------------------------------ people (the names others see)
    def set_name(self, owner: str, name: str) -> None:
        """The display name of a browser's owner; "" forgets it."""
        with self.tx() as con:
            if name:
                con.execute("INSERT OR REPLACE INTO people VALUES (?,?)", (owner, name))
            else:
                con.execute("DELETE FROM people WHERE owner = ?", (owner,))

    def names(self) -> dict[str, str]:
        return dict(self.con.execute("SELECT owner, name FROM people").fetchall())

    # ------------------------------------------------------------------ shared configs (?config=ID links)
    def share(self, config: dict) -> str:
        """Keep a config under a short id named by its content (the same config: the same link)."""
        text = json.dumps(config, sort_keys=True)
        share_id = hashlib.sha256(text.encode()).hexdigest()[:10]
        with self.tx() as con:
            con.execute("INSERT OR IGNORE INTO shared VALUES (?,?,?)", (share_id, text, time.time()))
        return share_id

    def shared(self, share_id: str) -> dict | None:
        r = self.con.execute("SELECT config FROM shared WHERE id = ?", (share_id,)).fetchone()
        return json.loads(r[0]) if r else None

    # ------------------------------------------------------------------ lessons (a teacher's, as JSON)
    def save_lesson(self, lesson_id: str, spec: dict) -> None:
        now = time.time()
        with self.tx() as con:
            con.execute("INSERT INTO lessons VALUES (?,?,?,?) ON CONFLICT(id) DO UPDATE SET spec = excluded.spec, "
                        "updated_at = excluded.updated_at", (lesson_id, json.dumps(spec), now, now))

    def lesson(self, lesson_id: str) -> dict | None:
        r = self.con.execute("SELECT spec FROM lessons WHERE id = ?", (lesson_id,)).fetchone()
        return json.loads(r[0]) if r else None

    def lessons(self) -> list[dict]:
        """Every stored lesson's spec, newest first."""
        return [json.loads(r[0]) for r in self.con.execute("SELECT spec FROM lessons ORDER BY created_at DESC")]

    def delete_lesson(self, lesson_id: str) -> None:
        with self.tx() as con:
            con.execute("DELETE FROM lessons WHERE id = ?", (lesson_id,))


def _chunk(run_id: str, xs, losses) -> tuple:
    """A step_chunks row: steps xs (ascending) and their losses, as int64 / float64 bytes."""
    xs = np.asarray(xs, np.int64)
    return run_id, int(xs[0]), int(xs[-1]), xs.tobytes(), np.asarray(losses, np.float64).tobytes()


def _add_columns(con: sqlite3.Connection) -> None:
    """Columns added since a store was made (each with its default, so older rows read as before)."""
    have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
    if have and "lesson" not in have:
        con.execute("ALTER TABLE runs ADD COLUMN lesson TEXT")


def _migrate(con: sqlite3.Connection) -> None:
    """Schema 1 -> 2: a store's per-step rows become one chunk per run (in the open transaction-less
    connection: one transaction here)."""
    def old() -> bool:
        return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'steps'").fetchone() is not None

    if not old():
        return
    con.execute("BEGIN IMMEDIATE")
    try:
        if not old():                            # another process migrated it meanwhile
            con.execute("COMMIT")
            return
        runs = [r[0] for r in con.execute("SELECT DISTINCT run_id FROM steps")]
        for run_id in runs:
            rows = con.execute("SELECT step, loss FROM steps WHERE run_id = ? ORDER BY step", (run_id,)).fetchall()
            con.execute("DELETE FROM step_chunks WHERE run_id = ?", (run_id,))
            con.execute("INSERT INTO step_chunks VALUES (?,?,?,?,?)",
                        _chunk(run_id, [r[0] for r in rows], [r[1] if r[1] is not None else np.nan for r in rows]))
        con.execute("DROP TABLE steps")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
