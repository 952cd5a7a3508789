"""UMAP and t-SNE projections of codes, and a process that runs them off the web server's path.

UMAP compiles itself with numba: `import umap` takes 5-10 s and the first fit in every new process
compiles more (measured on the 2-core machine: ~45 s with umap-learn's own small-data neighbour search,
~90 s with its pynndescent search, 12 s when scikit-learn finds the neighbours and UMAP is handed them,
which is what `fit` does; a warm fit of 2,000 16-D codes then takes 1.1-1.9 s). In the web server that
would freeze every page (numba holds the GIL), so the app hands fits to one spawned process at a
lower priority than training, with one thread (training runs in the other processes need the cores
more), warms it once per server when the Latent space page first opens, and caches each result by
its key. This module sits outside playground.inspect so that the process does not import torch
(the inspect package does): it holds numpy, scikit-learn and umap only.
"""
from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from playground.errors import PlaygroundError

log = logging.getLogger(__name__)
MAX_POINTS = 2000          # codes projected by UMAP / t-SNE at most (a seeded subsample beyond)
UMAP_EPOCHS = 200          # umap-learn's default is 500 below 10,000 points; 200 looks the same here, 2x sooner
TSNE_ITERATIONS = 500      # scikit-learn's default is 1,000; 500 settles these codes in half the time
NICE = 15                  # below the training workers (10): a projection waits for training, not the reverse
KEEP = 64                  # results kept per projector


def subsample(n: int, seed: int = 0, limit: int = MAX_POINTS) -> np.ndarray:
    """The indices of the codes a projection fits: all of them up to `limit`, else a seeded sample."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def fit(codes: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """(N, 2) float32: UMAP (umap-learn) or t-SNE (scikit-learn) of codes (N, k), seeded."""
    codes = np.asarray(codes, np.float32)
    if len(codes) < 5:
        raise PlaygroundError(f"{method}: {len(codes)} codes are too few to project; it needs 5 or more")
    if method == "umap":
        import warnings

        import umap
        from sklearn.neighbors import NearestNeighbors
        k = min(15, len(codes) - 1)
        dist, idx = NearestNeighbors(n_neighbors=k).fit(codes).kneighbors(codes)    # exact, each point first
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                 # "n_jobs overridden to 1 by random_state": wanted
            reducer = umap.UMAP(n_components=2, n_neighbors=k, random_state=seed, n_epochs=UMAP_EPOCHS,
                                init="pca" if len(codes) > 20 else "random",
                                precomputed_knn=(idx, dist.astype(np.float32), None))
            return reducer.fit_transform(codes).astype(np.float32)
    if method == "tsne":
        from sklearn.manifold import TSNE
        return TSNE(2, perplexity=min(30.0, (len(codes) - 1) / 3), init="pca", random_state=seed,
                    max_iter=TSNE_ITERATIONS, n_jobs=1).fit_transform(codes).astype(np.float32)
    raise PlaygroundError(f"method: '{method}' is not a background projection; use umap or tsne")


def _init() -> None:
    """In the projection process: low priority, one thread, and gone when its parent is."""
    import time
    try:
        os.nice(NICE)
    except (AttributeError, OSError):
        pass
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)
    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def _warm() -> float:
    """Compile UMAP's numba code in this process: a fit of a few hundred random points."""
    import time
    t = time.perf_counter()
    fit(np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32), "umap")
    return time.perf_counter() - t


class Projector:
    """One background process for UMAP and t-SNE. submit(key, codes, method, seed) returns a Future
    (the same one for the same key while it is kept); warm() starts the process and compiles UMAP."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._warm: Future | None = None
        self._results: OrderedDict = OrderedDict()
        atexit.register(self.close)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            env = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "OPENBLAS_NUM_THREADS": "1"}
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)                          # the spawned process reads them as it starts
            try:
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_init)
                self._warm = self._pool.submit(_warm)
            finally:
                for k, v in saved.items():
                    os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        return self._pool

    def warm(self) -> Future:
        """Start the process and compile UMAP in it (once); the Future gives the seconds it took."""
        with self._lock:
            self._executor()
            return self._warm

    @property
    def warming(self) -> bool:
        """The process is still compiling UMAP (its first fit takes that much longer)."""
        return self._warm is not None and not self._warm.done()

    def submit(self, key, codes: np.ndarray, method: str, seed: int = 0) -> Future:
        with self._lock:
            fut = self._results.get(key)
            if fut is not None and not (fut.done() and fut.exception() is not None and
                                        not isinstance(fut.exception(), PlaygroundError)):
                self._results.move_to_end(key)
                return fut
            try:
                fut = self._executor().submit(fit, codes, method, seed)
            except RuntimeError:                            # the process died (killed, out of memory): a new one
                self._pool = None
                fut = self._executor().submit(fit, codes, method, seed)
            self._results[key] = fut
            while len(self._results) > KEEP:
                self._results.popitem(last=False)
            return fut

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
