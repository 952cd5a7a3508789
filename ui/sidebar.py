"""The shared sidebar: device, seed, and which run the pages show."""
from __future__ import annotations

import streamlit as st

from playground.device import available_devices
from playground.train import REGISTRY
from ui.state import keep, me

STATUS_ICON = {"running": ":green[:material/play_circle:]", "finished": ":green[:material/check_circle:]",
               "stopped": ":orange[:material/stop_circle:]", "diverged": ":red[:material/error:]",
               "failed": ":red[:material/warning:]", "pending": ":gray[:material/schedule:]",
               "starting": ":gray[:material/hourglass_top:]"}


def run_label(run) -> str:
    return f"{run.id} · {run.name}"       # stable text: a selectbox's labels must not change under it


def sidebar() -> None:
    keep({"device": "auto", "seed": 0, "all_runs": False})
    with st.sidebar:
        st.selectbox("Device", ["auto"] + available_devices(), key="device",
                     help="auto picks CUDA, then Apple MPS, then the CPU")
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="seed",
                        help="Same seed, same config, same device: the same numbers to the last digit (on CPU)")
        everyone = st.toggle("Everyone's runs", key="all_runs",
                             help="Off: the runs started from this browser. On: every run on this server")
        runs = {r.id: r for r in REGISTRY.runs(None if everyone else me())}   # one snapshot: runs may be trimmed
        if runs:
            if st.session_state.get("run_id") not in runs:
                st.session_state["run_id"] = next(iter(runs))
            st.selectbox("Run shown", list(runs), key="run_id", format_func=lambda i: run_label(runs[i]),
                         help="Runs live in the server: they keep training if you reload or close the tab")
            status = runs[st.session_state["run_id"]].history.status
            st.caption(f"{STATUS_ICON.get(status, '')} {status}")
        st.caption("Training Playground · PyTorch")
