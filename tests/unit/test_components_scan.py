"""ui.components_scan: the cheaper filter gives Streamlit's own answer for every installed distribution,
and Streamlit's scan, with it in place, finds the same components (the Filters page's drawing canvas)."""
import importlib.metadata

import pytest
from streamlit.components.v2 import manifest_scanner

from ui import components_scan


@pytest.fixture
def original(monkeypatch):
    """Streamlit's own filter; the module's state is put back after the test."""
    own = manifest_scanner._is_likely_streamlit_component_package
    if own is components_scan.likely_component:                  # replaced earlier in this process
        own = components_scan._ORIGINAL
    assert own is not None and own is not components_scan.likely_component
    monkeypatch.setattr(components_scan, "_ORIGINAL", None)
    monkeypatch.setattr(manifest_scanner, "_is_likely_streamlit_component_package", own)
    return own


def test_the_same_answer_as_streamlits_filter_for_every_installed_distribution(original):
    dists = list(importlib.metadata.distributions())
    assert len(dists) > 50
    answers = {d.name: (original(d), components_scan.likely_component(d)) for d in dists}
    assert {name for name, (theirs, _) in answers.items() if theirs} >= {"streamlit", "streamlit-drawable-canvas"}
    assert all(theirs == ours for theirs, ours in answers.values()), \
        {name: a for name, a in answers.items() if a[0] != a[1]}


def test_the_scan_finds_the_same_components_with_it(original):
    scan = manifest_scanner.scan_component_manifests
    scan = getattr(scan, "__wrapped__", scan)                    # not the suite's once-per-process copy
    before = sorted(m.name for m, _ in scan())
    assert components_scan.faster()
    assert manifest_scanner._is_likely_streamlit_component_package is components_scan.likely_component
    assert sorted(m.name for m, _ in scan()) == before
    assert before, "no component found: the canvas of the Filters page is one"
