"""The browser test of the local path (test_build_train.py), against runs that train on a Ray
cluster: a local one of two 1-CPU worker nodes (tests/ray_cluster.py), named to the server by
PLAYGROUND_RAY_ADDRESS."""
from __future__ import annotations

import re

import pytest

from tests.e2e.harness import Server, open_page
from tests.e2e.test_build_train import train_spiral_live_then_stop
from tests.ray_cluster import LocalCluster

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster_page(browser, tmp_path_factory):
    cluster = LocalCluster()
    srv = Server(tmp_path_factory.mktemp("ray-store"), name="streamlit-ray", env=cluster.env)
    try:
        srv.start()
        pg, ctx, errors = open_page(browser, srv.url)
        yield pg, cluster
        ctx.close()
        assert not errors, f"JavaScript errors in the page: {errors}"
    finally:
        srv.stop()
        cluster.shutdown()


def test_train_spiral_live_then_stop_on_a_ray_cluster(cluster_page, shots):
    pg, cluster = cluster_page
    train_spiral_live_then_stop(pg, lambda name: shots(pg, name), first_point_s=45)
    bar = pg.locator('[data-testid="stProgress"]').first.inner_text()
    m = re.search(r"on node ([0-9a-f]{8}) \(127\.0\.0\.1\)", bar)
    assert m, bar
    assert m.group(1) in (cluster.cpu_node.node_id[:8], cluster.gpu_node.node_id[:8])   # a worker, not the head
