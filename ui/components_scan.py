"""Streamlit's start-up scan for installed custom components, made cheaper (the drawing canvas of the
Filters page is such a component, so the scan must run).

Streamlit 1.67 first picks the installed distributions that may hold a component: those whose name,
summary or requirements mention streamlit. It asks importlib.metadata for each of these, which parses
the whole METADATA file (long description included) at every ask, four asks per distribution: the scan
took 0.18-0.19 s of CPU over the ~100 distributions here (torch's and numpy's descriptions are long), in
the server before it serves anyone, and again in every AppTest. `faster()` puts in its place a filter
that reads each file once and parses its headers only: 0.04-0.06 s a scan, and the same answers
(tests/unit/test_components_scan.py compares both on every installed distribution).
"""
from __future__ import annotations

import email
import importlib.metadata
import logging

log = logging.getLogger(__name__)
PREFIXES = ("streamlit-", "streamlit_", "st-", "st_")
_ORIGINAL = None                             # Streamlit's filter, once replaced


def headers(dist: importlib.metadata.Distribution) -> email.message.Message:
    """The distribution's metadata headers (where importlib.metadata reads them), without its body."""
    text = (dist.read_text("METADATA") or dist.read_text("PKG-INFO") or dist.read_text("") or "").replace("\r\n", "\n")
    return email.message_from_string(text.split("\n\n", 1)[0] + "\n")


def likely_component(dist: importlib.metadata.Distribution) -> bool:
    """Whether the distribution may hold a Streamlit component: Streamlit's own test, on the headers."""
    try:
        meta = headers(dist)
    except Exception:                        # unreadable: Streamlit's own test decides
        return _ORIGINAL(dist) if _ORIGINAL is not None else False
    name = meta["Name"]
    if not isinstance(name, str) or not name:
        return False
    name = name.lower()
    summary = meta["Summary"].lower() if "Summary" in meta else ""
    if "streamlit" in name or "streamlit" in summary:
        return True
    if any(r and "streamlit" in r.lower() for r in meta.get_all("Requires-Dist") or []):
        return True
    return name.startswith(PREFIXES)


def faster() -> bool:
    """Put likely_component in place of Streamlit's filter; False (and nothing changed) where this
    Streamlit has no such filter."""
    global _ORIGINAL
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:
        return False
    current = getattr(manifest_scanner, "_is_likely_streamlit_component_package", None)
    if current is None:
        log.debug("this Streamlit has no component filter to replace")
        return False
    if current is not likely_component:
        _ORIGINAL = current
        setattr(manifest_scanner, "_is_likely_streamlit_component_package", likely_component)
    return True
