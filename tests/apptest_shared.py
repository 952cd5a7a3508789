"""Streamlit's AppTest, made cheaper for this suite: two things every AppTest redoes, and that do not
change while the tests run, are done once per test process.

- Compiling the scripts. Each AppTest run makes a new ScriptCache, so each run re-reads app.py and the
  page, rewrites them for Streamlit's "magic" and compiles them: ~13 ms a run, 17% of the crawler's script
  thread under py-spy. Here one cache serves the process; its key holds the file's mtime and size, so a
  script that a test writes or changes is compiled anew. (With the scan below: tests/app 536 s -> 422 s.)
- The component scan. Each AppTest's first run scans the installed distributions for components
  (~50 ms even with ui.components_scan, ~300 AppTests in tests/app). The scan's result is kept; each
  AppTest still registers the components in a registry of its own.

The server (ui/serve.py) keeps one ScriptCache for its life and scans once, so it needs neither.
"""
from __future__ import annotations

import functools
import os
import threading
from typing import Any

_BYTECODE: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def install() -> None:
    from streamlit import config
    from streamlit.components.v2 import manifest_scanner
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    class SharedScriptCache(ScriptCache):
        def get_bytecode(self, script_path: str) -> Any:
            st = os.stat(script_path)
            key = (os.path.realpath(script_path), st.st_mtime_ns, st.st_size, config.get_option("runner.magicEnabled"))
            with _LOCK:
                code = _BYTECODE.get(key)
            if code is None:
                code = super().get_bytecode(script_path)
                with _LOCK:
                    _BYTECODE[key] = code
            return code

    for module in (app_test, local_script_runner):
        if module.ScriptCache is ScriptCache:
            module.ScriptCache = SharedScriptCache
    scan = manifest_scanner.scan_component_manifests
    if not hasattr(scan, "cache_info"):
        manifest_scanner.scan_component_manifests = functools.cache(scan)
