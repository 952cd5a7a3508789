"""The epoch scrubber every inspection view shares: pick a snapshot of the run shown."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import streamlit as st

from playground.errors import PlaygroundError
from playground.store import Snapshot, StoreError
from playground.train import REGISTRY
from playground.train.frozen import Frozen, frozen_model


def snapshot_label(s: Snapshot) -> str:
    return f"epoch {s.epoch}" + (" (initial weights)" if s.epoch == 0 else "") + (" (cut short)" if s.partial else "")


PLAY_EVERY = 1.0              # seconds per snapshot while playing
log = logging.getLogger(__name__)
_warmer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-prefetch")
_wanted: dict[str, set] = {}  # run id -> the snapshots (epoch, step) its latest page draw asked to warm
_wanted_lock = threading.Lock()


def _keys(run_id: str, key: str) -> dict:
    """The widget's key, and the plain session keys that hold the scrubber's state: plain keys survive
    page switches (Streamlit drops the state of widgets the new page does not draw) and reruns
    interrupted by the next one (which leave the browser's older widget value in place)."""
    return {"widget": f"{key}_{run_id}", "epoch": f"_{key}_epoch_{run_id}", "newest": f"_{key}_newest_{run_id}",
            "pinned": f"_{key}_pinned_{run_id}", "playing": f"_{key}_playing_{run_id}"}


def _moved(k: dict) -> None:
    """The user moved the slider: stay where they put it, unless they put it on the newest snapshot."""
    s = st.session_state
    s[k["epoch"]] = s[k["widget"]]
    s[k["pinned"]] = s[k["widget"]] != s.get(k["newest"])


def _toggle_play(k: dict, epochs: list[int]) -> None:
    s = st.session_state
    s[k["playing"]] = not s.get(k["playing"])
    if s[k["playing"]]:
        s[k["pinned"]] = True                               # playing drives the slider, not the newest snapshot
        if s.get(k["epoch"]) == epochs[-1]:
            s[k["epoch"]] = epochs[0]                       # from the start when it was at the end


def _player(k: dict, epochs: list[int]) -> None:
    """While playing: every PLAY_EVERY seconds, the next snapshot, and the whole page redrawn; it
    stops at the last one."""
    first = [True]

    @st.fragment(run_every=PLAY_EVERY)
    def tick():
        if first[0]:                                        # drawn with the page: its first tick comes later
            first[0] = False
            return
        s = st.session_state
        if not s.get(k["playing"]):
            return
        later = [e for e in epochs if e > s.get(k["epoch"], epochs[0])]
        if later:
            s[k["epoch"]] = later[0]
        if len(later) <= 1:
            s[k["playing"]] = False
        st.rerun()
    tick()


def epoch_scrubber(run_id: str, key: str = "scrub") -> Snapshot | None:
    """A slider over the run's weight snapshots (None when it has none yet), with a play button. The
    chosen epoch is shared by every page that shows the run. It stays where the user put it, and
    follows the newest snapshot (a run still training) until the user moves it away from the
    newest; only the user's own moves decide that (a callback)."""
    snaps = REGISTRY.store.snapshots(run_id)
    if not snaps:
        return None
    by_epoch = {s.epoch: s for s in snaps}                  # a cut-short final epoch replaces its full one
    epochs = sorted(by_epoch)
    k = _keys(run_id, key)
    s = st.session_state
    if s.get(k["epoch"]) not in by_epoch or not s.get(k["pinned"]):
        s[k["epoch"]] = epochs[-1]
    s[k["newest"]] = epochs[-1]
    s[k["widget"]] = s[k["epoch"]]                          # the widget shows the shared choice
    if len(epochs) == 1:
        st.caption(f"Weights of {snapshot_label(by_epoch[epochs[0]])}: the only snapshot so far")
        return by_epoch[epochs[0]]
    playing = bool(s.get(k["playing"]))
    # one row, the button as wide as its word and the slider the rest: a column of a tenth of the
    # row cut the button to "P…" wherever the row is narrow (Evaluate's, beside the data switch)
    row = st.container(horizontal=True, vertical_alignment="bottom")
    row.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
               key=f"{key}_play_{run_id}", on_click=_toggle_play, args=(k, epochs), width="content",
               help="Pause" if playing else f"Play: one snapshot every {PLAY_EVERY:g} s, to the last one")
    epoch = row.select_slider("Epoch", epochs, key=k["widget"], format_func=lambda e: snapshot_label(by_epoch[e]),
                              on_change=_moved, args=(k,),
                              help="The run's weight snapshots: every epoch of a short run; for a long one, "
                                   "dense early and thinner later. The view is computed from the snapshot, "
                                   "never from the model that trains")
    if playing:
        _player(k, epochs)
    return by_epoch[epoch]


@st.cache_resource(max_entries=8, show_spinner=False)
def snapshot_model(run_id: str, epoch: int, step: int) -> Frozen:
    """The run's model rebuilt from its snapshot at epoch, read once and shared by every view of that
    snapshot, in every session (eval mode, never trained; step tells a resumed run's newer snapshot
    of the same epoch apart)."""
    return frozen_model(REGISTRY.store, run_id, epoch)


def from_snapshot(fn, *args):
    """fn(*args) (a cached view of a snapshot); a snapshot that cannot be shown (a damaged file,
    weights gone NaN) stops the page with the reason instead of a traceback."""
    try:
        return fn(*args)
    except PlaygroundError as e:
        hint = " The other snapshots of this run still load: pick another epoch." if isinstance(e, StoreError) else ""
        st.error(f"{e}.{hint}" if not str(e).endswith(".") else f"{e}{hint}", icon=":material/error:")
        st.stop()


def prefetch(run_id: str, snap: Snapshot, work) -> None:
    """After a page drew `snap`, compute its neighbours' views in the background: work(snapshot)
    calls the page's cached view functions with the page's current settings, so the next scrub or
    play step finds them cached. One background thread; work a newer draw no longer wants is skipped."""
    snaps = {s.epoch: s for s in REGISTRY.store.snapshots(run_id)}
    epochs = sorted(snaps)
    if snap.epoch not in snaps:
        return
    i = epochs.index(snap.epoch)
    near = [snaps[epochs[j]] for j in (i + 1, i - 1) if 0 <= j < len(epochs)]
    with _wanted_lock:
        _wanted[run_id] = {(n.epoch, n.step) for n in near}

    def run(n: Snapshot) -> None:
        with _wanted_lock:
            if (n.epoch, n.step) not in _wanted.get(run_id, ()):
                return
        try:
            work(n)
        except PlaygroundError:
            pass                                            # the page says why when the user gets there
        except Exception:                                   # a background warm-up must never break anything
            log.exception("prefetching run %s epoch %s", run_id, n.epoch)
    for n in near:
        _warmer.submit(run, n)


def _state(run_id: str) -> tuple:
    """What a followed page reads of a run: its snapshots, status and whether writes are pending."""
    run = REGISTRY.get(run_id)
    snaps = REGISTRY.store.snapshots(run_id)
    return (len(snaps), snaps[-1].step if snaps else None, run.history.status if run else None,
            REGISTRY.recorder.tracking(run_id))


def begin_draw() -> None:
    """app.py, before the page runs: the shown run's state as this draw starts, for follow()."""
    run_id = st.session_state.get("run_id")
    st.session_state["_drawn_from"] = (run_id, _state(run_id)) if run_id and REGISTRY.get(run_id) else None

# follow()'s gap for the inspection pages whose redraw is heavy: Evaluate evaluates a whole split, Filters
# recomputes feature maps and top examples, Explain every map, Latent space costs the browser ~0.8 s of CPU
HEAVY_GAP = 3.0


def follow(run_id: str, every: float = 1.0, marker=None, gap: float = 0.0) -> None:
    """At the end of a page: while the run trains (or its last writes are still being stored), redraw
    the page when a new snapshot is written, marker() (what else the page reads) changes, or the run
    ends, so an inspection view keeps up with training (and its scrubber with the newest epoch)
    without a click. A run that ended while the page was being drawn gets one more draw at once: the
    page may show an epoch or a status older than the store's. A page whose redraw is heavy (in the
    browser as much as here) passes gap: at most one redraw per gap seconds while the run trains, so
    following costs the run little; the end is shown at once."""
    run = REGISTRY.get(run_id)
    if run is None:
        return
    drawn = st.session_state.get("_drawn_from")
    start = drawn[1] if drawn and drawn[0] == run_id else None
    if not (run.alive or REGISTRY.recorder.tracking(run_id)):
        if start is not None and start != _state(run_id):
            st.session_state["_drawn_from"] = None
            st.rerun()
        return

    def now() -> tuple:
        return _state(run_id) + ((marker(),) if marker else ())
    seen, drawn_at = (start + now()[4:] if start is not None else now()), time.monotonic()

    @st.fragment(run_every=every)
    def poll():
        current = now()
        if current != seen and (current[2:4] != seen[2:4] or time.monotonic() - drawn_at >= gap):
            st.rerun()
    poll()


def no_snapshot(name: str) -> str:
    """Why an inspection view of the run called name shows nothing yet."""
    return f"**{name}** has no weight snapshot yet: the first (the initial weights) is written as it starts."


def scrubbed(run_id: str, name: str) -> Snapshot | None:
    """The epoch scrubber of an inspection page, or (no snapshot yet) a note saying why nothing shows."""
    snap = epoch_scrubber(run_id)
    if snap is None:
        st.info(no_snapshot(name))
    return snap
