"""Real redis-server processes on free loopback ports, stopped by their pid: a single server, a
3-master Redis Cluster, a master with a replica under one Sentinel. Used by tests/shared (conftest)
and by bench/shared.py. No mock: the fault tests pause (SIGSTOP), kill and restart them."""

import os
import random
import shutil
import signal
import socket
import subprocess
import time

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp_path):
        self.port = _free_port()
        self.dir = tmp_path
        self.proc = None
        self.paused = False

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = _spawn(["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                            "--dir", str(self.dir), "--logfile", ""], self.dir)  # fmt: skip
        _wait_ping(self.port, self.proc)

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


# -- a Redis Cluster and a Sentinel-managed master


def _spawn(args, cwd):
    # .ci/hardening runs the suite with libasan preloaded: not into redis-server
    return subprocess.Popen(
        [REDIS_SERVER, *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.endswith("SAN_OPTIONS")},
    )


def _wait_ping(port, proc, seconds=10):
    deadline = time.monotonic() + seconds
    while True:
        try:
            redis.Redis(port=port, socket_timeout=1).ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.02)


_random = random.SystemRandom()  # not the seeded one: two test runs at once must not pick alike


def _bindable(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_ports(n):
    # A node also listens on its bus port, port + 10000: both must be free,
    # and both below the kernel's ephemeral range (32768 and up on Linux),
    # where another process's outgoing connection or port-0 listener (the
    # other CI lane runs these tests too) could take one before the node binds it.
    ports = []
    while len(ports) < n:
        port = _random.randrange(10000, 22768)
        if port not in ports and _bindable(port) and _bindable(port + 10000):
            ports.append(port)
    return ports


class Cluster:
    """Three masters, no replicas; a node stopped with stop_node() is down until start_node()."""

    def __init__(self, root):
        self.root = root
        self.ports = _cluster_ports(3)
        self.procs = {}

    def start_node(self, port):
        node_dir = self.root / str(port)
        node_dir.mkdir(exist_ok=True)
        self.procs[port] = proc = _spawn(
            ["--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file",
             "nodes.conf", "--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "no",
             "--save", "", "--appendonly", "no", "--dir", str(node_dir), "--logfile", ""],
            node_dir,
        )  # fmt: skip
        _wait_ping(port, proc)

    def start(self, attempts=3):
        # On a loaded machine a creation has been seen to wait forever for the
        # nodes to join ("Waiting for the cluster to join"): the nodes are then
        # stopped and a new cluster is made on other ports.
        for attempt in range(attempts):
            for port in self.ports:
                self.start_node(port)
            try:
                self._create()
                return
            except (subprocess.TimeoutExpired, RuntimeError):
                self.stop()
                if attempt == attempts - 1:
                    raise
                self.ports = _cluster_ports(len(self.ports))

    def _create(self):
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        out = subprocess.run(  # noqa: PLW1510 - the return code is checked below, with the output
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports), "--cluster-yes"],
            capture_output=True, text=True, timeout=40,
        )  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {out.stdout}{out.stderr}")
        self.wait_ok()

    def wait_ok(self, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            states = []
            for port in self.ports:
                try:
                    info = redis.Redis(port=port, socket_timeout=1).execute_command("CLUSTER INFO")  # parsed: a dict
                    states.append(info.get("cluster_state") == "ok" and int(info.get("cluster_slots_ok", 0)) == 16384)
                except redis.RedisError:
                    states.append(False)
            if all(states):
                return
            time.sleep(0.05)
        raise RuntimeError("the test cluster did not reach cluster_state:ok")

    @property
    def url(self):
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def client(self):
        from redis.cluster import RedisCluster

        return RedisCluster(host="127.0.0.1", port=self.ports[0], socket_timeout=2)

    def port_of(self, key):
        """The port of the master that holds ``key``'s slot."""
        client = self.client()
        try:
            node = client.get_node_from_key(key)
            return node.port
        finally:
            client.close()

    def stop_node(self, port):
        proc = self.procs.pop(port)
        proc.kill()
        proc.wait()

    def keys(self, pattern):
        found = []
        for port in self.ports:
            if port in self.procs:
                found += redis.Redis(port=port, socket_timeout=2).keys(pattern)
        return found

    def flush(self):
        for port in self.procs:
            redis.Redis(port=port, socket_timeout=2).flushall()

    def stop(self):
        for port in list(self.procs):
            self.stop_node(port)


class Sentinel:
    """A master, a replica and one Sentinel watching them as service "svc"; kill_master() fails over."""

    service = "svc"

    def __init__(self, root):
        self.root = root
        self.master_port, self.replica_port, self.port = (_free_port() for _ in range(3))
        self.procs = {}

    def _server(self, port, *extra):
        d = self.root / str(port)
        d.mkdir(exist_ok=True)
        self.procs[port] = proc = _spawn(
            ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(d),
             "--logfile", "", *extra], d,
        )  # fmt: skip
        _wait_ping(port, proc)

    def start(self):
        self._server(self.master_port)
        self._server(self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        conf = self.root / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.root}\n"
            f"sentinel monitor {self.service} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.service} 300\n"
            f"sentinel failover-timeout {self.service} 2000\n"
        )
        # redis-server --sentinel: the same binary as Debian's redis-sentinel, no other package needed
        self.procs[self.port] = proc = _spawn([str(conf), "--sentinel"], self.root)
        _wait_ping(self.port, proc)
        self.wait_replicated()

    def master(self):
        _, port = redis.Redis(port=self.port, socket_timeout=1).execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service
        )
        return int(port)

    def wait_replicated(self, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                info = redis.Redis(port=self.master(), socket_timeout=1).info("replication")
                if info.get("role") == "master" and info.get("connected_slaves", 0) >= 1:
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the test Sentinel's master has no replica")

    @property
    def url(self):
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.service}/0"

    def kill_master(self):
        """Kills the master; returns once Sentinel names the replica as the new master."""
        old = self.master()
        proc = self.procs.pop(old)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while self.master() == old:
            if time.monotonic() > deadline:
                raise RuntimeError("Sentinel did not fail over")
            time.sleep(0.05)
        return old

    def restart(self, port):
        """Brings a killed master back, as a replica of the current master."""
        self._server(port, "--replicaof", "127.0.0.1", str(self.master()))
        self.wait_replicated()

    def flush(self):
        redis.Redis(port=self.master(), socket_timeout=2).flushall()

    def stop(self):
        for port in list(self.procs):
            proc = self.procs.pop(port)
            proc.kill()
            proc.wait()
