"""Start the app: `python -m ui.serve [streamlit run's options]` is `streamlit run app.py` that gets its
slow imports done while the server starts and the first browser loads, not after it has connected.

The first page of a fresh server waited ~1.4 s for its first script run to import torch. Here a thread
imports the app's modules and the default page's (pandas, plotly, ...) as soon as the server is up, while
the browser loads the page's scripts; the first script run finds them imported, or waits for the import
under way. `make app` and the browser tests start the app this way; `streamlit run app.py` still works,
and imports on the first visit.
"""
from __future__ import annotations

import ast
import importlib
import logging
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PAGE = ROOT / "views" / "build_train.py"
# the app's modules, and st.set_page_config's emoji icon's table (0.1 s on the first page)
PRELOAD = ["ui.app", "streamlit.emojis"]
# what other pages import when first used, after the first page is out: Explain's first trust checks waited
# for scipy.stats (0.4 s) and torchvision's blur (1.2 s, with torch._dynamo); its maps for captum (0.4 s)
LATER = ["captum.attr", "scipy.stats", "torchvision.transforms.functional", "sklearn.metrics", "sklearn.decomposition",
         "onnx"]
LATER_DELAY = 2.0                    # seconds after the first page: its browser draws it meanwhile
FIRST_PAGE = threading.Event()       # set by the app (ui/app.py) once its first page is out
log = logging.getLogger(__name__)


def page_imports(script: Path) -> list[str]:
    """The modules a page script imports at its top level, in order."""
    names = []
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def preload() -> None:
    """Import what the first script run needs; once the first page is out, what the other pages import
    when first drawn. A failure here is logged and changes nothing: the page imports the same modules
    and reports what fails."""
    try:
        from streamlit.runtime.runtime import Runtime, RuntimeState

        end = time.monotonic() + 60          # after Streamlit's own start-up: no import of it runs beside ours, and
        while time.monotonic() < end:        # no browser can connect before it anyway
            if Runtime.exists() and Runtime.instance().state != RuntimeState.INITIAL:
                break
            time.sleep(0.02)
        for name in PRELOAD + page_imports(DEFAULT_PAGE):
            importlib.import_module(name)
    except Exception:
        log.exception("preloading the app's modules (the first page will import them itself)")
        return
    FIRST_PAGE.wait(120)
    time.sleep(LATER_DELAY)
    for name in LATER:
        try:
            importlib.import_module(name)
        except Exception:
            log.exception("preloading %s (the page that needs it will import it itself)", name)


def main(argv: list[str]) -> int:
    # Streamlit's own imports first, in this thread
    from streamlit.web import cli

    from ui import components_scan

    components_scan.faster()         # Streamlit's start-up scan for components, ~0.15 s of CPU less
    threading.Thread(target=preload, daemon=True, name="preload").start()
    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *argv]
    return cli.main()


if __name__ == "__main__":           # not under multiprocessing's spawn, which imports this as __mp_main__
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    # this file again, as ui.serve: the module the app imports (its FIRST_PAGE)
    from ui import serve

    sys.exit(serve.main(sys.argv[1:]))
