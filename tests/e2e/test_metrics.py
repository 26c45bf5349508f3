"""GET /metrics: Prometheus text, summed over every worker, optionally behind a bearer token."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import api, call, create_account, holdall_cli, signed_headers
from tests.e2e.server import Server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: Server, token: str = "") -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = requests.get(f"{server.url}/metrics", headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for (found, pairs), value in samples.items() if found == name and wanted <= pairs)


def served(samples: Samples) -> float:
    """Requests counted, the scrapes themselves left out."""
    return total(samples, "holdall_requests_total") - total(samples, "holdall_requests_total", operation="Metrics")


def scrape_until(server: Server, done: Callable[[Samples], bool], timeout: float = 10) -> Samples:
    """Workers flush once a second: scrape until every worker's counts are in."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(server)
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def test_counters_add_up_over_two_workers(tmp_path: Path) -> None:
    server = Server(
        data=tmp_path / "data",
        extra=["--workers", "2", "--sweep-interval", "1", "--usage-flush-interval", "0.2"],
    ).start()
    try:
        assert api(server, "CreateBucket", BucketName="counted", Region="cn-bj")["RetCode"] == 0
        assert api(server, "UpdateBucketQuota", BucketName="counted", MaxObjects=3)["RetCode"] == 0
        puts = [call(server, "PUT", "counted", f"k{index}", data=b"x" * 100).status_code for index in range(5)]
        assert puts == [200, 200, 200, 403, 403]

        def get(_: int) -> int:
            reply = requests.get(f"{server.url}/counted/k0", headers=signed_headers("GET", "counted", "k0"), timeout=10)
            assert reply.content == b"x" * 100
            return reply.status_code

        with ThreadPoolExecutor(8) as pool:  # several connections at once: both workers serve
            assert set(pool.map(get, range(200))) == {200}
        assert call(server, "GET", "counted", "missing").status_code == 404

        tenant = create_account(server.data, "metered")
        assert api(server, "CreateBucket", keys=tenant, BucketName="metered", Region="cn-bj")["RetCode"] == 0
        holdall_cli(server.data, "quota", "grant", "metered", "--request-count=0.0001")  # one request
        assert call(server, "PUT", "metered", "a", data=b"1", keys=tenant).status_code == 200
        time.sleep(1.0)  # the used-up quota is seen after a usage flush
        assert call(server, "PUT", "metered", "b", data=b"1", keys=tenant).status_code == 403
        sent = 3 + 5 + 200 + 1 + 2

        samples = scrape_until(server, lambda found: served(found) >= sent)
        assert served(samples) == sent
        requests_total = "holdall_requests_total"
        assert total(samples, requests_total, operation="GetFile", status="200") == 200
        assert total(samples, requests_total, operation="GetFile", status="404") == 1
        assert total(samples, requests_total, operation="PutFile", status="200") == 4
        assert total(samples, requests_total, operation="PutFile", status="403") == 3
        assert total(samples, requests_total, operation="CreateBucket", dialect="ufile") == 2
        assert total(samples, "holdall_sent_bytes_total", operation="GetFile") >= 200 * 100
        assert total(samples, "holdall_received_bytes_total", operation="PutFile") >= 5 * 100 + 1
        assert total(samples, "holdall_request_duration_seconds_count", operation="GetFile") == 201
        assert total(samples, "holdall_request_duration_seconds_bucket", operation="GetFile", le="+Inf") == 201
        assert total(samples, "holdall_limit_refusals_total", limit="bucket_cap") == 2
        assert total(samples, "holdall_limit_refusals_total", limit="quota") == 1
        assert total(samples, "holdall_metadata_store_seconds_count", kind="write") >= 8
        # A worker's in-flight gauge is its count at its last flush: the scrape itself, once every worker
        # has flushed after its last request
        samples = scrape_until(server, lambda found: total(found, "holdall_requests_in_flight") == 1)
        assert total(samples, "holdall_requests_in_flight") == 1
        directory = server.data / "run" / f"metrics-127.0.0.1-{server.port}"
        workers = {path.name for path in directory.glob("counter_*.db")}
        assert len(workers) == 2, workers  # both workers counted, and one scrape summed them

        samples = scrape_until(server, lambda found: total(found, "holdall_sweeper_removed_total", kind="sweeps") > 0)
        assert total(samples, "holdall_sweeper_removed_total", kind="sweeps") > 0
    finally:
        server.stop()


@pytest.mark.parametrize("where", ["flag", "environment"])
def test_a_token_guards_the_metrics(tmp_path: Path, where: str) -> None:
    token = "scrape-me-0123456789"
    flags, env = (["--metrics-token", token], {}) if where == "flag" else ([], {"HOLDALL_METRICS_TOKEN": token})
    server = Server(data=tmp_path / "data", extra=flags, env=env).start()
    try:
        refused = requests.get(f"{server.url}/metrics", timeout=10)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        wrong = requests.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401
        assert total(scrape(server, token), "holdall_requests_total", operation="Metrics", status="401") == 2
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200  # health needs no token
    finally:
        server.stop()
