"""Faults for bench/shared.py: the Redis tier and its peers while Redis is stopped, hanging or refusing writes.

Each library runs in its own process, configured as its docs show a user
(from the server's address, every timeout and retry at the library's
default), against its own fresh server: it stores a few keys, the harness
applies the fault, then the library is called on new keys (and, for refused
writes, on the stored ones too). Each call's delay and whether an exception
reached the caller are recorded; a process still running CAP seconds after
the fault is killed, and its remaining calls count as "hung". For the cluster
row a master of a 3-master Redis Cluster is killed instead; for Sentinel the
master is killed and Sentinel promotes its replica.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

CAP = 30.0  # seconds a library may take, after the fault, for its calls
KEYS = 5  # keys stored before the fault, and new keys called after it

CHILD = textwrap.dedent(
    """
    import asyncio, json, sys, time
    lib, topology, where, n, phase = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    computed = []

    def compute(x):
        computed.append(x)
        return ("value", x)

    async def acompute(x):
        computed.append(x)
        return ("value", x)

    is_async = lib in ("cashews", "aiocache")
    if lib.startswith("boundcache"):
        import boundcache
        import redis
        # client=: redis-py's defaults (no socket timeout, retries), which the tier bounds
        target = {"client": redis.Redis(port=where["port"])} if "client=" in lib else {"url": where["url"]}
        tier = boundcache.RedisTier(**target, secret=b"bench-secret-0123456789abcdef", namespace="faults")
        f = boundcache.lru_cache(maxsize=0, shared=tier, name="bench.fault")(compute)  # every call reads Redis
    elif lib == "dogpile.cache":
        from dogpile.cache import make_region
        if topology == "cluster":
            from redis.cluster import ClusterNode
            backend, args = "dogpile.cache.redis_cluster", {"startup_nodes": [ClusterNode("127.0.0.1", where["port"])]}
        elif topology == "sentinel":
            backend, args = "dogpile.cache.redis_sentinel", {"sentinels": [["127.0.0.1", where["port"]]],
                                                             "service_name": where["service"]}
        else:
            backend, args = "dogpile.cache.redis", {"host": "127.0.0.1", "port": where["port"], "db": 0}
        f = make_region().configure(backend, arguments=args).cache_on_arguments()(compute)
    elif lib == "cashews":
        from cashews import Cache
        cache = Cache()
        cache.setup(f"redis://127.0.0.1:{where['port']}", **({"cluster": True} if topology == "cluster" else {}))
        f = cache(ttl="1h")(acompute)
    else:
        from aiocache import Cache, cached
        f = cached(cache=Cache.REDIS, endpoint="127.0.0.1", port=where["port"], namespace="faults")(acompute)

    def report(**fields):
        print(json.dumps(fields), flush=True)

    async def run():
        loop = asyncio.get_running_loop()
        async def call(x):
            return await f(x) if is_async else f(x)
        for x in range(n):
            await call(x)
        computed.clear()
        report(ready=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # the fault is in place
        keys = list(range(n)) + list(range(n, 2 * n)) if phase == "stored and new" else list(range(1000, 1000 + n))
        for x in keys:
            start = time.perf_counter()
            error = None
            try:
                ok = await call(x) == ("value", x)
            except BaseException as exc:
                ok, error = False, type(exc).__name__
            report(key=x, s=time.perf_counter() - start, ok=ok, error=error)
        report(done=True, recomputed_stored=len([x for x in computed if x < n]))

    asyncio.run(run())
    """
)

LIBS = ("boundcache", "boundcache client=redis.Redis(port=...)", "dogpile.cache", "cashews", "aiocache")
CLUSTER_LIBS = ("boundcache", "dogpile.cache", "cashews")  # aiocache has no cluster client
SENTINEL_LIBS = ("boundcache", "dogpile.cache")  # nor cashews and aiocache a Sentinel one


def run_child(script, lib, topology, where, phase, fault):
    """Runs one library through one fault; returns its calls and outcome."""
    proc = subprocess.Popen(
        [sys.executable, str(script), lib, topology, json.dumps(where), str(KEYS), phase],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    lines = []

    def read():
        for line in proc.stdout:
            lines.append(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while not lines and time.monotonic() < deadline:
        time.sleep(0.01)
    if not lines:
        proc.kill()
        return {"calls": [], "hung": True, "setup_failed": True}
    fault()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    deadline = time.monotonic() + CAP
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    hung = proc.poll() is None
    if hung:
        proc.kill()
    proc.wait()
    reader.join(1)
    calls = [line for line in lines if "key" in line]
    done = [line for line in lines if line.get("done")]
    return {"calls": calls, "hung": hung, "recomputed_stored": done[0]["recomputed_stored"] if done else None}


def _fill_until_refused(port):
    import redis

    admin = redis.Redis(port=port)
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", admin.info("memory")["used_memory"] + 200_000)
    i = 0
    try:
        while True:
            admin.set(f"filler:{i}", b"x" * 10_000)
            i += 1
    except redis.exceptions.OutOfMemoryError:
        pass


def measure_faults():
    """{scenario: {library: outcome}}, every library through every scenario in this run."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "shared"))
    from redis_servers import Cluster, Sentinel, Server

    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    script = work / "child.py"
    script.write_text(CHILD)
    results = {}
    server = ("server", lambda s: {"url": s.url, "port": s.port})
    scenarios = [
        ("server stopped", LIBS, Server, *server, "new", lambda s: s.stop()),
        ("server hanging (SIGSTOP)", LIBS, Server, *server, "new", lambda s: s.pause()),
        ("writes refused (maxmemory, noeviction)", LIBS, Server, *server, "stored and new",
         lambda s: _fill_until_refused(s.port)),
        ("cluster: a master killed", CLUSTER_LIBS, Cluster, "cluster",
         lambda c: {"url": c.url, "port": c.ports[0]}, "new", lambda c: c.stop_node(c.ports[2])),
        ("Sentinel: the master killed, replica promoted", SENTINEL_LIBS, Sentinel, "sentinel",
         lambda s: {"url": s.url, "port": s.port, "service": s.service}, "new", lambda s: s.kill_master()),
    ]  # fmt: skip
    for scenario, libs, kind, topology, where, phase, fault in scenarios:
        results[scenario] = {}
        for lib in libs:
            d = work / f"{len(results)}-{lib}"
            d.mkdir()
            servers = kind(d)
            servers.start()
            try:
                results[scenario][lib] = run_child(
                    script, lib, topology, where(servers), phase, lambda s=servers, fault=fault: fault(s)
                )
            finally:
                servers.stop()
    return results


def summary(outcome):
    """One table row's cells: first call, slowest later call, errors that reached the caller, hung, recomputed."""
    calls = outcome["calls"]
    delays = [c["s"] for c in calls]
    errors = sorted({c["error"] for c in calls if c["error"]})
    return {
        "calls": len(calls),
        "first_s": delays[0] if delays else None,
        "max_later_s": max(delays[1:]) if len(delays) > 1 else None,
        "total_s": sum(delays),
        "errors": len([c for c in calls if c["error"]]),
        "error_types": errors,
        "hung": outcome["hung"],
        "recomputed_stored": outcome.get("recomputed_stored"),
    }
