"""Fixtures on real redis-servers (servers.py): one per test, and one Cluster and one Sentinel per session."""

import logging
import os
import time

import pytest
from redis_servers import REDIS_SERVER, Cluster, Sentinel, Server


def _require_redis_server():
    if not os.path.exists(REDIS_SERVER):
        pytest.fail("redis-server is not installed (Debian: apt-get install redis-server); .ci/run installs it")


@pytest.fixture
def server(tmp_path):
    _require_redis_server()
    s = Server(tmp_path)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def make_tier(server):
    """make_tier(**kwargs): a RedisTier on the test's server, closed after the test.

    Two tiers in one test act as two processes: each has its own clients,
    listener thread and process token."""
    import boundcache

    tiers = []

    def make(**kwargs):
        kwargs.setdefault("secret", b"test-secret-0123456789")
        kwargs.setdefault("retry_interval", 0.2)
        tier = boundcache.RedisTier(server.url, **kwargs)
        tiers.append(tier)
        return tier

    yield make
    for tier in tiers:
        tier.close()


@pytest.fixture
def shared_log(caplog):
    caplog.set_level(logging.WARNING, logger="boundcache.shared")
    return caplog


def _wait_until(predicate, timeout=20.0):
    """Polls predicate() until true; the bound is generous, and only a hang fails."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.fixture
def wait_until():
    return _wait_until


def _for_the_session(kind, tmp_path_factory):
    _require_redis_server()
    servers = kind(tmp_path_factory.mktemp(kind.__name__.lower()))
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    yield from _for_the_session(Cluster, tmp_path_factory)


@pytest.fixture(scope="session")
def sentinel(tmp_path_factory):
    yield from _for_the_session(Sentinel, tmp_path_factory)
