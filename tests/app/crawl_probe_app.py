"""A page with one planted defect of each kind the crawler looks for (tests/app/test_crawl.py checks
that the crawler reports each one, so that a crawl that finds nothing means something)."""
import logging

import streamlit as st

st.title("Probe")
shape = st.selectbox("Shape", ["square", "circle", "hexagon", "star", "cross"], key="shape")
if shape == "cross":
    raise ValueError("a planted exception for the 'cross' choice")
size = st.number_input("Size", key="size", step=1)
if size > 10**6:
    logging.getLogger("probe").error("a planted error in the log for a huge size")
if st.toggle("Show the export", key="export"):
    st.download_button("Broken download", lambda: 1 / 0, "x.bin")
    st.download_button("Empty download", b"", "empty.bin")
st.download_button("Good download", b"data", "good.bin")
