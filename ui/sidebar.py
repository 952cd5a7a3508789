"""The shared sidebar: device, seed, which run the pages show (from the run store), and who you are."""
from __future__ import annotations

import streamlit as st

from playground.errors import PlaygroundError
from playground.identity import NAME_MAX, clean_name, public_name
from playground.store import LIVE
from playground.train import REGISTRY
from ui.lesson import control, current_lesson
from ui.state import keep, me, rerun_when_ended, sign_out, who

STATUS_ICON = {"running": ":green[:material/play_circle:]", "finished": ":green[:material/check_circle:]",
               "stopped": ":orange[:material/stop_circle:]", "diverged": ":red[:material/error:]",
               "failed": ":red[:material/warning:]", "pending": ":gray[:material/schedule:]",
               "queued": ":gray[:material/schedule:]", "starting": ":gray[:material/hourglass_top:]",
               "interrupted": ":orange[:material/pause_circle:]", "lost": ":orange[:material/cloud_off:]"}
STATUS_POLL_S = 2.0         # a live run's caption in the sidebar: starting -> running -> how it ended
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


def status_line(row) -> None:
    """The shown run's caption. While the run is live a fragment keeps it true (starting, then running, then
    how it ended), a caption's worth of work every STATUS_POLL_S; the page is drawn again once when it ends,
    so the page's buttons and polling follow."""
    if row.status not in LIVE:
        st.caption(run_caption(row))
        return

    @st.fragment(run_every=STATUS_POLL_S)
    def line():
        now = REGISTRY.row(row.id) or row
        st.caption(run_caption(now))
        rerun_when_ended("_polling", row.id, now.status in LIVE)     # the live panel's key: one rerun, not two
    line()


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


def set_name() -> None:
    REGISTRY.store.set_name(me(), clean_name(st.session_state.get("my_name", "")))


def set_paused() -> None:
    try:
        REGISTRY.pause(st.session_state.get("class_paused", False), who())
    except PlaygroundError as e:
        st.session_state.action_error = str(e)


def waiting_line() -> None:
    """The teacher's view of the line for training slots: who waits, with which run, since when."""
    import time

    import pandas as pd

    line = REGISTRY.line()
    if not line:
        return
    names, now = REGISTRY.store.names(), time.time()
    with st.expander(f"Waiting in line ({len(line)})", icon=":material/schedule:"):
        st.dataframe(pd.DataFrame({"place": [p for p, _, _ in line],
                                   "student": [public_name(r.owner, names) for _, r, _ in line],
                                   "run": [f"{r.id} · {r.name}" for _, r, _ in line],
                                   "waiting": [f"{now - since:.0f} s" for _, _, since in line]}),
                     hide_index=True, width="stretch")
        st.caption(f"The server trains {REGISTRY.max_active} runs at once; your own Starts go first, then everyone's "
                   f"first run before anyone's second. Stop any of them on the Runs page (Everyone's runs).")


def you() -> None:
    """Who this browser is: the name others see, the teacher's controls once signed in, and how to
    find its runs again (the address, which is a secret: its token is never shown on a page)."""
    token, person = me(), who()
    if "my_name" not in st.session_state:
        st.session_state.my_name = REGISTRY.store.names().get(token, "")
    st.text_input("Your name (what others see)", key="my_name", on_change=set_name, max_chars=NAME_MAX,
                  placeholder="e.g. Ana", help="Shown beside your runs when someone lists everyone's runs. "
                                               "Your address is your key to your runs: never share it")
    if refused := st.session_state.pop("teacher_refused", None):
        st.error(refused, icon=":material/key_off:")
    if person.teacher:
        st.session_state.class_paused = REGISTRY.paused
        st.success("Signed in as the teacher: you can stop, resume, rename and delete any run",
                   icon=":material/school:")
        st.toggle("Pause new Starts for the class", key="class_paused", on_change=set_paused,
                  help="While on, only you can start or resume runs; runs already training go on")
        waiting_line()
        st.button("Sign out as teacher", icon=":material/logout:", on_click=sign_out)
    elif REGISTRY.paused:
        st.warning("The teacher has paused new runs for the class.", icon=":material/pause_circle:")
    st.caption("Your runs belong to this browser's address: bookmark it to find them again tomorrow, or on "
               "another computer. Anyone with that address can act as you, so send others a run's id, not it.")


# The run this browser opened from the class board or a link: listed under Run shown even if the
# Everyone's runs switch reads off. Opening one switches that on too, but a switch is a widget, and the
# browser can send its old value back in the rerun right after (seen on the board: Evaluate opened with
# no Run shown); a plain state key is the server's alone.
OPENED = "_opened_run"


def open_run(run_id: str) -> None:
    """Show run_id (anyone's) in the sidebar: picked, with everyone's runs listed."""
    s = st.session_state
    s.run_id, s[OPENED] = run_id, run_id
    s.all_runs = s["_kept.all_runs"] = True        # the backup too (ui/state.keep)


def sidebar() -> None:
    keep({"all_runs": False, "large_type": False})    # the device and the seed start from the run form's (init_form)
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
        elif line := REGISTRY.line():
            st.caption(f":material/schedule: {len(line)} run{'s' if len(line) > 1 else ''} waiting for a training "
                       f"slot (this server trains {REGISTRY.max_active} at once)")
        control(st.number_input, "Seed", min_value=0, max_value=2**31 - 1, step=1, key="seed",
                lesson=current_lesson(),     # ?lesson=ID: its config goes into the form on any page
                help="Same seed, same config, same device: the same numbers to the last digit (on CPU)")
        everyone = st.toggle("Everyone's runs", key="all_runs",
                             help="Off: the runs started from this browser. On: every run on this server")
        rows = {r.id: r for r in REGISTRY.listing(None if everyone else token, limit=PICKER_RUNS)}
        chosen = st.session_state.get("run_id")
        if chosen and chosen not in rows:           # an older run opened from elsewhere (the board, Runs, a link)
            row = REGISTRY.store.get(chosen)
            if row is not None and (everyone or row.owner == token or st.session_state.get(OPENED) == chosen):
                rows[chosen] = row
        if rows:
            if st.session_state.get("run_id") not in rows:
                st.session_state["run_id"] = next(iter(rows))
            st.selectbox("Run shown", list(rows), key="run_id", format_func=lambda i: run_label(rows[i]),
                         help="Runs are kept in the run store: across reloads, page switches and restarts")
            status_line(rows[st.session_state["run_id"]])
        you()
        for warning in REGISTRY.store.warnings:
            st.warning(warning, icon=":material/database:")
        large = st.toggle("Large type", key="large_type",
                          help="Bigger text and controls on every page, for a projector at the back of a room")
        st.caption("Training Playground · PyTorch")
    st.html(A11Y_CSS + (LARGE_TYPE_CSS if large else ""))


# Icon-only buttons carry a text label for screen readers (their name), shown to nobody: the layer
# editor's move and remove buttons. Streamlit gives a widget with key K the class st-key-K.
A11Y_CSS = """<style>
[class*="st-key-up_"] button [data-testid="stMarkdownContainer"],
[class*="st-key-down_"] button [data-testid="stMarkdownContainer"],
[class*="st-key-del_"] button [data-testid="stMarkdownContainer"]
{position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap;}
</style>"""
# Streamlit sizes its text and controls in rem: a larger root font scales the whole page
LARGE_TYPE_CSS = "<style>html {font-size: 21px !important;}</style>"
