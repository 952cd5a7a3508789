"""The browser test of the local path (test_build_train.py), against runs that train on a Ray
cluster: a local one of two 1-CPU worker nodes (tests/ray_cluster.py), named to the server by
PLAYGROUND_RAY_ADDRESS."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import Server, open_page
from tests.e2e.test_build_train import train_spiral_live_then_stop
from tests.e2e.test_runs import start_spiral
from tests.e2e.ui import progress_step, token, wait_for_step
from tests.ray_cluster import LocalCluster

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster_page(browser, tmp_path_factory):
    cluster = LocalCluster()
    srv = Server(tmp_path_factory.mktemp("ray-store"), name="streamlit-ray", env=cluster.env)
    try:
        srv.start()
        pg, ctx, errors = open_page(browser, srv.url)
        yield pg, cluster, srv
        ctx.close()
        assert not errors, f"JavaScript errors in the page: {errors}"
    finally:
        srv.stop()
        cluster.shutdown()


def test_train_spiral_live_then_stop_on_a_ray_cluster(cluster_page, shots):
    pg, cluster, _ = cluster_page
    train_spiral_live_then_stop(pg, lambda name: shots(pg, name), first_point_s=45)
    bar = pg.locator('[data-testid="stProgress"]').first.inner_text()
    m = re.search(r"on node ([0-9a-f]{8}) \(127\.0\.0\.1\)", bar)
    assert m, bar
    assert m.group(1) in (cluster.cpu_node.node_id[:8], cluster.gpu_node.node_id[:8])   # a worker, not the head


def test_a_killed_server_finds_its_run_still_training_on_the_cluster(cluster_page, shots):
    """The web server dies (SIGKILL) while a run trains on the cluster; the run trains on, and the
    restarted server follows it again: the page shows it live, and Stop reaches it."""
    pg, cluster, srv = cluster_page
    me = token(pg)
    start_spiral(pg, 20000)
    # the page shows the previous test's stopped run until this one is live: wait for this one
    expect(pg.get_by_role("button", name="Stop")).to_be_enabled(timeout=45_000)
    wait_for_step(pg, timeout=45)
    before = progress_step(pg)
    srv.kill()
    time.sleep(2)
    srv.start()
    pg.goto(f"{srv.url}/?me={me}")
    pg.get_by_role("button", name="Start training").wait_for(timeout=60_000)
    shots(pg, "after-restart-loaded")
    wait_for_step(pg, above=before, timeout=30)           # it trained on meanwhile, and the page is live
    shown = progress_step(pg)
    wait_for_step(pg, above=shown, timeout=15)
    bar = pg.locator('[data-testid="stProgress"]').first.inner_text()
    assert re.search(r"on node [0-9a-f]{8} \(127\.0\.0\.1\)", bar), bar
    shots(pg, "after-restart")
    pg.get_by_role("button", name="Stop").click()
    pg.get_by_text("stopped by the user").wait_for(timeout=20_000)
