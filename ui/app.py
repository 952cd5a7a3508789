"""The app's every run (app.py calls main()): navigation, the shared sidebar, then the page."""
import os

import streamlit as st

from playground.errors import PlaygroundError
from playground.train.registry import default_registry
from ui import page_log, serve
from ui.run_form import init_form, restore_draft
from ui.scrubber import begin_draw
from ui.share import open_shared
from ui.sidebar import sidebar
from ui.state import announce_teacher_key, sign_in_from_address


def main() -> None:
    registry = default_registry()  # looked up at every run, as app.py's own import did (tests swap it)
    started = page_log.start()     # the page's wall and CPU time, and its wait for a core
    page_log.install()             # scripts/load.py's timing of the server's answers (only under PLAYGROUND_PAGE_LOG)
    st.set_page_config(page_title="Training Playground", page_icon="🧠", layout="wide")
    page = st.navigation([
        st.Page("views/build_train.py", title="Build & Train", icon=":material/construction:", default=True),
        st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page("views/race.py", title="Optimizer race", icon=":material/route:"),
        st.Page("views/runs.py", title="Runs", icon=":material/history:"),
        st.Page("views/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
        st.Page("views/filters.py", title="Filters & feature maps", icon=":material/grid_on:"),
        st.Page("views/layer_stats.py", title="Layer statistics", icon=":material/stacked_line_chart:"),
        st.Page("views/attention.py", title="Attention", icon=":material/visibility:"),
        st.Page("views/latent.py", title="Latent space", icon=":material/scatter_plot:"),
        st.Page("views/explain.py", title="Explain", icon=":material/lightbulb:"),
        st.Page("views/lessons.py", title="Lessons", icon=":material/school:"),
        st.Page("views/board.py", title="Class board", icon=":material/leaderboard:"),
    ])
    announce_teacher_key()     # once per server, in its terminal: the teacher's sign-in link
    sign_in_from_address()     # ?teacher=KEY: this browser is the teacher (the key leaves the address)
    try:                       # once per server, before any page draws: runs an earlier server left on a cluster
        registry.reattach()
    except PlaygroundError as e:
        st.warning(str(e), icon=":material/cloud_off:")
    restore_draft()            # what this browser was editing, after a reload or a restart
    init_form()                # on every page: Streamlit forgets the values of widgets a page does not draw
    open_shared()              # ?config=ID or ?run=ID: a neighbour's config in the form, or their run shown
    sidebar()
    begin_draw()               # the shown run's state as the page starts: follow() redraws if it changes meanwhile
    try:
        page.run()
    finally:                   # also where a page ends early (st.stop, st.switch_page)
        if page_log.PATH:      # scripts/load.py: the server's time for each whole page
            page_log.page(page.title, started)
        first = not serve.FIRST_PAGE.is_set()
        serve.FIRST_PAGE.set()     # started by `make app`: what other pages import, now in the background
        # Worker processes for training kept warm (a race of 4 starts at once): a class that presses Start
        # together sets it to the class's size (each is ~0.4 GB; starting one takes ~5 s of CPU, so 10 starting
        # at once on 2 cores wait ~25 s). Read at every run: tests set it. A fresh server's first page waits
        # first: a worker importing torch while the browser drew that page made it interactive 5.9 s after the
        # start instead of 4.4 (medians of 5, 2 cores). The student's next rerun (a Start too) ends the wait; a
        # Start pressed at once then waits longer for its worker (first point 4.9 s instead of 2.5).
        registry.warm(int(os.environ.get("PLAYGROUND_WARM_WORKERS", "4")), after=serve.LATER_DELAY if first else 0.0)
