"""Streamlit helpers shared by the pages. The engine (playground/) never imports this."""
import pyarrow

# Streamlit hands every chart's datasets and every table to pyarrow. For a frame of more than 100
# rows per column, pyarrow converts the columns on a new pool of cpu_count() threads, started and
# joined inside the page's script: 3.2 ms for a 2,000-point curve on an idle machine (0.12 ms in the
# calling thread), and under a class's load 43 % of Build & Train's script time was spent starting
# those threads and waiting for them (py-spy, 10 students on 2 cores). The server converts small
# frames; one thread is faster at any load.
pyarrow.set_cpu_count(1)
