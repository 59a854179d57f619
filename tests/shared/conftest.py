"""A real redis-server per test, on a free loopback port, stopped by its pid.

No mock: the fault tests pause (SIGSTOP), kill and restart this server."""

import logging
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

import redis  # the test extra brings redis-py (pip install ".[test]")

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp_path):
        if not os.path.exists(REDIS_SERVER):
            pytest.fail("redis-server is not installed (Debian: apt-get install redis-server); .ci/run installs it")
        self.port = _free_port()
        self.dir = tmp_path
        self.proc = None
        self.paused = False

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--logfile", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # .ci/hardening runs the suite with libasan preloaded: not into redis-server
            env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.endswith("SAN_OPTIONS")},
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)

    def stop(self):
        if self.proc is not None:
            if self.paused:
                self.resume()
            self.proc.kill()  # by pid
            self.proc.wait()
            self.proc = None

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def client(self):
        return redis.Redis(port=self.port, socket_timeout=2)


@pytest.fixture
def server(tmp_path):
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


def _wait_until(predicate, timeout=5.0):
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
