"""Training Playground: entry point. Navigation and the shared sidebar; pages do the rest."""
import streamlit as st

from playground.train import REGISTRY
from ui.sidebar import sidebar

st.set_page_config(page_title="Training Playground", page_icon="🧠", layout="wide")
page = st.navigation([
    st.Page("pages/build_train.py", title="Build & Train", icon=":material/construction:", default=True),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/race.py", title="Optimizer race", icon=":material/route:"),
])
REGISTRY.warm(4)           # worker processes for training (a race of 4 starts at once); no-op once up
sidebar()
page.run()
