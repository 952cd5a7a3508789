"""Class board helpers: a lesson's runs as the viewer may see them (names, "student 3", never a token),
drawn live in a polling fragment, and opening one of them read-only in an inspection page."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from playground.config import RunConfig
from playground.identity import Who, public_name
from playground.lessons import GOALS, Lesson
from playground.train import REGISTRY
from playground.train.checked import default_name
from playground.train.registry import StoredRun
from playground.viz.board import Entry, board_chart, board_metric, board_table, first_to_goal, leaderboard
from ui.charts import vega
from ui.sidebar import open_run
from ui.state import is_teacher, poll_every

# The pages a run opens in (read-only for a student: the registry refuses every action on another's run).
VIEWS = {"Evaluate": "views/evaluate.py", "Filters & feature maps": "views/filters.py", "Explain": "views/explain.py",
         "Layer statistics": "views/layer_stats.py", "Latent space": "views/latent.py",
         "Attention": "views/attention.py"}
IDLE_POLL_S = 5.0        # nothing trains: look for new runs this often (a class presses Start after the board opens)
LARGE_CSS = """<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p, [data-testid="stMain"] [data-testid="stTable"] td,
[data-testid="stMain"] [data-testid="stTable"] th, [data-testid="stMain"] [data-testid="stAlert"] p
{font-size: 1.6rem !important; line-height: 1.4;}
[data-testid="stMain"] h1 {font-size: 3.2rem !important;}
</style>"""


def may_see(lesson: Lesson, person: Who) -> bool:
    """The teacher sees every board; the class only a board its lesson opened to it."""
    return person.teacher or lesson.board in ("names", "anonymous")


@st.cache_data(max_entries=1024, show_spinner=False)
def _stored_epochs(run_id: str, updated_at: float) -> list[dict]:
    """An ended (or elsewhere trained) run's epoch records, read once per version of its row."""
    return REGISTRY.store.metrics(run_id)["epochs"]


_PLAIN: dict[str, str] = {}                  # run id -> its default name (a run's network does not change)


def _plain_name(run_id: str, config: dict) -> str:
    if run_id not in _PLAIN:
        _PLAIN[run_id] = default_name(RunConfig.from_dict(config))
    return _PLAIN[run_id]


def entries(lesson: Lesson, person: Who) -> tuple[list[Entry], bool]:
    """The lesson's runs as the board shows them to `person`, and whether any of them trains now.
    Students in stable order (by their first run), each student's runs oldest first; the teacher's
    runs (the reference, whoever signed in as the teacher) last."""
    rows = REGISTRY.store.list(lesson=lesson.id)[::-1]                # oldest first
    names = REGISTRY.store.names()
    anonymous = lesson.board == "anonymous" and not person.teacher
    order = list(dict.fromkeys(r.owner for r in rows))
    label = {}
    for i, owner in enumerate(o for o in order if not is_teacher(o)):
        label[owner] = f"student {i + 1}" if anonymous else public_name(owner, names)
        if anonymous and owner == person.token:
            label[owner] += " (you)"
    out, alive = [], False
    for r in sorted(rows, key=lambda r: (is_teacher(r.owner), order.index(r.owner))):
        run = REGISTRY.get(r.id)
        reference = is_teacher(r.owner)
        if run is not None and not isinstance(run, StoredRun):          # in this server's memory: as it trains
            records = list(run.history.epochs)              # records are never changed once added
            done, status, alive = sum(not e.get("partial") for e in records), run.history.status, alive or run.alive
        else:
            records, done, status = _stored_epochs(r.id, r.updated_at), r.epochs_done, r.status
        # a run's name may be its owner's ("Ana's try"): an anonymous board names others' runs by their network
        name = r.name if not anonymous or reference or r.owner == person.token else _plain_name(r.id, r.config)
        out.append(Entry(r.id, "teacher (reference)" if reference else label[r.owner], name, status, done,
                         r.epochs_total, r.created_at, records, reference))
    return out, alive


def _open(choice_key: str, view_key: str) -> None:
    """Show the chosen run in the sidebar (everyone's runs, so the picker keeps it) and go to the view."""
    s = st.session_state
    if s.get(choice_key):
        open_run(s[choice_key])
        s.board_goto = VIEWS[s[view_key]]


def board(lesson: Lesson, person: Who, large: bool) -> None:
    """The live board: redrawn while runs train (and every few seconds while none does, to find new ones)."""
    listed, was_alive = entries(lesson, person)

    @st.fragment(run_every=poll_every(was_alive) or IDLE_POLL_S)
    def live():
        runs, alive = entries(lesson, person)
        if alive != was_alive:                   # started or ended since the page was drawn: poll at the right pace
            st.rerun()
        if not runs:
            st.info(f"No runs in this lesson yet. Students open the lesson's link (`?lesson={lesson.id}` after this "
                    f"server's address) and press **Start training** on Build & Train; their runs appear here as "
                    f"they train.", icon=":material/school:")
            return
        goal = lesson.goal
        metric = board_metric(goal, runs)
        if (first := first_to_goal(runs, goal)) is not None:
            x, epoch = first
            st.success(f"First to reach the goal ({goal.words()}): **{x.student}**, run *{x.name}*, at epoch {epoch}",
                       icon=":material/emoji_events:")
        st.caption(f"{len(runs)} run(s) · {len({x.student for x in runs})} people · "
                   f"{sum(x.status == 'running' for x in runs)} training now · "
                   + (f"goal: {goal.words()}" if goal else f"no goal: ranked by {GOALS[metric][0]}"))
        vega(board_chart(runs, metric, goal, large, height=520 if large else 380))
        if large:                                # for a projector: stacked, the leaderboard on top
            right, left = st.container(), st.container()
        else:
            left, right = st.columns([4, 3])
        with right:
            st.markdown("**Leaderboard** (each student's best run; ties by fewer epochs)")
            table(leaderboard(runs, metric, goal), large)
        with left:
            st.markdown("**Every run**")
            table(board_table(runs, metric, goal), large)
    live()
    open_controls(listed)                        # as the page run found them (it reruns whole when one starts)


def open_controls(runs: list) -> None:
    """Open a run in an inspection page: outside the live fragment, so that a choice being made is not
    redrawn under the hand twice a second (the page reruns whole when a run starts or ends)."""
    if not runs:
        return
    a, b, c = st.columns([3, 2, 1.3], vertical_alignment="bottom")
    label = {x.run_id: f"{x.student} · {x.name}" for x in runs}
    if st.session_state.get("board_pick") not in label:
        st.session_state.board_pick = None
    a.selectbox("Open a run", list(label), format_func=label.get, key="board_pick", index=None,
                placeholder="choose a student's run")
    b.selectbox("in", list(VIEWS), key="board_view")
    c.button("Open the run", icon=":material/open_in_new:", on_click=_open, args=("board_pick", "board_view"),
             width="stretch", disabled=not st.session_state.get("board_pick"))
    st.caption("The run opens read-only: only its owner (and you, if you are the teacher) may act on it.")


def table(df, large: bool) -> None:
    """A board table: sortable normally; large type for a projector (an HTML table the page's CSS enlarges:
    a dataframe's cells are drawn on a canvas that CSS cannot reach)."""
    if large:
        shown = df.copy()
        for col in shown.columns:
            if col.startswith("best "):
                shown[col] = shown[col].map(lambda v: "–" if v is None or v != v else f"{v:.4g}")
            if col == "started":
                shown[col] = shown[col].map(lambda t: t.strftime("%H:%M") if isinstance(t, dt.datetime) else t)
        st.table(shown.set_index(shown.columns[0]))
        return
    c = st.column_config
    st.dataframe(df, hide_index=True, width="stretch", column_config={
        "started": c.DatetimeColumn("started", format="distance"), "run": c.TextColumn("run", width="medium"),
        **{col: c.NumberColumn(col, format="%.4g") for col in df.columns if col.startswith("best ")}})
