"""Training Playground: entry point. Navigation and the shared sidebar; pages do the rest."""
import streamlit as st

from playground.train import REGISTRY
from ui.run_form import init_form, restore_draft
from ui.scrubber import begin_draw
from ui.sidebar import sidebar

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
])
restore_draft()            # what this browser was editing, after a reload or a restart
init_form()                # on every page: Streamlit forgets the values of widgets a page does not draw
sidebar()
begin_draw()               # the shown run's state as the page starts: follow() redraws if it changes meanwhile
page.run()
REGISTRY.warm(4)           # worker processes for training (a race of 4 starts at once), once the page is out
