"""The shared sidebar: device, seed, and which run the pages show (from the run store)."""
from __future__ import annotations

import streamlit as st

from playground.store import LIVE
from playground.train import REGISTRY
from ui.state import keep, me

STATUS_ICON = {"running": ":green[:material/play_circle:]", "finished": ":green[:material/check_circle:]",
               "stopped": ":orange[:material/stop_circle:]", "diverged": ":red[:material/error:]",
               "failed": ":red[:material/warning:]", "pending": ":gray[:material/schedule:]",
               "queued": ":gray[:material/schedule:]", "starting": ":gray[:material/hourglass_top:]",
               "interrupted": ":orange[:material/pause_circle:]", "lost": ":orange[:material/cloud_off:]"}
PICKER_RUNS = 50            # the newest runs offered in the picker; the Runs page lists them all


def run_label(row) -> str:
    return f"{row.id} · {row.name}"


def run_caption(row) -> str:
    """The shown run's status under the picker. A live run's epoch count is left out: the sidebar is
    drawn once per page, so it would stand still while the page's live panel counts on."""
    if not row.epochs_total:
        return f"{STATUS_ICON.get(row.status, '')} {row.status}"
    count = (f"{row.epochs_total:,} epochs planned" if row.status in LIVE
             else f"{row.epochs_done:,}/{row.epochs_total:,} epochs")
    return f"{STATUS_ICON.get(row.status, '')} {row.status} · {count}"


_LOOK_UP = object()                 # require_run's run when the page passes none


def shown_run():
    """The run picked under "Run shown" (live, or read back from the store), or None when there is none."""
    return REGISTRY.get(st.session_state.get("run_id"))


def require_run(missing: str, run=_LOOK_UP):
    """The run shown in the sidebar, for a page that needs one; with none, the page shows `missing`
    (what to do to get one) and stops there. A page that draws something from the run before it may
    stop (an expander that opens when there is none) looks it up with shown_run() and passes it as run."""
    if run is _LOOK_UP:
        run = shown_run()
    if run is None:
        st.info(missing)
        st.stop()
    return run


def sidebar() -> None:
    keep({"all_runs": False})             # the device and the seed start from the run form's (init_form)
    token = me()
    with st.sidebar:
        cluster = REGISTRY.executor.kind == "ray"
        st.selectbox("Device", ["auto"] + REGISTRY.executor.devices(), key="device",
                     help="On a Ray cluster: auto and cpu train on a CPU of any node, cuda on a node with a GPU"
                     if cluster else "auto picks CUDA, then Apple MPS, then the CPU")
        if cluster:
            queued = REGISTRY.executor.queued()
            st.caption(f":material/hub: Runs train on the Ray cluster at `{REGISTRY.executor.address}`"
                       + (f" · {queued} waiting for a CPU" if queued else ""))
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="seed",
                        help="Same seed, same config, same device: the same numbers to the last digit (on CPU)")
        everyone = st.toggle("Everyone's runs", key="all_runs",
                             help="Off: the runs started from this browser. On: every run on this server")
        rows = {r.id: r for r in REGISTRY.listing(None if everyone else token, limit=PICKER_RUNS)}
        if rows:
            if st.session_state.get("run_id") not in rows:
                st.session_state["run_id"] = next(iter(rows))
            st.selectbox("Run shown", list(rows), key="run_id", format_func=lambda i: run_label(rows[i]),
                         help="Runs are kept in the run store: across reloads, page switches and restarts")
            st.caption(run_caption(rows[st.session_state["run_id"]]))
        st.caption(f"Your runs belong to this browser's address (`?me={token}`): bookmark it to find them "
                   f"again tomorrow, or on another computer.")
        for warning in REGISTRY.store.warnings:
            st.warning(warning, icon=":material/database:")
        st.caption("Training Playground · PyTorch")
