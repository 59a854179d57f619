"""The Redis tier against its peers on one local redis-server: ``python bench/run.py --shared``.

Starts its own ``redis-server`` (``--save "" --appendonly no``) on a free
loopback port, and times, in one run:

- the local-tier hit: boundcache with and without ``shared=``, and cashews'
  in-process tier (``client_side=True``, Redis client-side caching);
- the Redis-tier hit (every call reads Redis): boundcache (``maxsize=0``,
  so every call goes past the local tier), dogpile.cache, cashews, aiocache,
  and a raw redis-py ``GET`` of the same bytes;
- miss-and-store: a new key per call;
- a stampede: 8 processes x 50 threads call one cold key at once; the
  computations are counted with ``INCR`` on a separate Redis key.

Writes bench/results/shared.json and bench/SHARED.md (and a chart when
matplotlib is installed). ``--smoke`` runs every part with tiny counts and
writes nothing: a check that the harness works, not a measurement.

Timing: each figure is the best of 7 runs of a loop of N calls (the
minimum is the least disturbed by other processes), in microseconds per
call; the libraries of one table take turns within each round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VALUE = {"path": "img/0001.png", "size": 256, "data": b"\x89PNG" + b"x" * 1020}  # about 1 KB pickled
SECRET = b"bench-secret-0123456789abcdef"


sys.path.insert(0, str(HERE.parent / "tests" / "shared"))
from redis_servers import Cluster, Server


def best(libs, n, repeats):
    """Microseconds per call for each of ``libs`` (name -> ``loop(n)``): the
    best of ``repeats`` rounds, the libraries interleaved within each round so
    that a slow stretch of the machine falls on all of them alike."""
    times = {lib: [] for lib in libs}
    for _ in range(repeats):
        for lib, loop in libs.items():
            t = time.perf_counter()
            loop(n)
            times[lib].append(time.perf_counter() - t)
    return {lib: min(ts) / n * 1e6 for lib, ts in times.items()}


async def abest(libs, n, repeats):
    """``best`` for coroutine loops; ``libs`` maps a name to a maker of one."""
    times = {lib: [] for lib in libs}
    for _ in range(repeats):
        for lib, make_loop in libs.items():
            loop = make_loop()
            t = time.perf_counter()
            await loop(n)
            times[lib].append(time.perf_counter() - t)
    return {lib: min(ts) / n * 1e6 for lib, ts in times.items()}


# -- sync libraries


def repeat(f):
    """A timing loop calling f(1) n times: a hit after the first."""

    def run(n):
        for _ in range(n):
            f(1)

    return run


_fresh_keys = [0]


def new_key_functions(tier, region):
    """boundcache's and dogpile's functions for the miss-and-store loops."""
    import boundcache

    @boundcache.lru_cache(maxsize=0, shared=tier, name="bench.bc_new")
    def bc_new(x):
        return VALUE

    @region.cache_on_arguments()
    def dogpile_new(x):
        return VALUE

    return bc_new, dogpile_new


def fresh(f):
    """A timing loop calling f on n keys never used before: a miss and a store each."""

    def run(n):
        base = _fresh_keys[0]
        _fresh_keys[0] += n
        for i in range(base, base + n):
            f(i)

    return run


def sync_cases(url, port):
    import redis
    from dogpile.cache import make_region

    import boundcache

    tier = boundcache.RedisTier(url, secret=SECRET, namespace="bench")
    raw = redis.Redis(port=port)
    cases = {}

    @boundcache.lru_cache(maxsize=1024)
    def bc_local(x):
        return VALUE

    @boundcache.lru_cache(maxsize=1024, shared=tier, name="bench.bc_shared")
    def bc_shared(x):
        return VALUE

    @boundcache.lru_cache(maxsize=0, shared=tier, name="bench.bc_redis")
    def bc_redis(x):
        return VALUE

    region = make_region().configure(
        "dogpile.cache.redis",
        arguments={"host": "127.0.0.1", "port": port, "db": 0, "redis_expiration_time": 3600},
    )

    @region.cache_on_arguments()
    def dogpile_f(x):
        return VALUE

    bc_local(1), bc_shared(1), bc_redis(1), dogpile_f(1)
    raw.set("raw:1", raw.get(next(iter(raw.scan_iter("bench:v:*")))))

    loop = repeat
    cases["local hit"] = {
        "boundcache": loop(bc_local),
        "boundcache shared=": loop(bc_shared),
    }
    cases["Redis hit"] = {
        "boundcache shared= (maxsize=0)": loop(bc_redis),
        "dogpile.cache": loop(dogpile_f),
        "raw redis-py GET": loop(lambda x: raw.get("raw:1")),
    }

    bc_new, dogpile_new = new_key_functions(tier, region)

    def raw_miss_store(n):
        base = _fresh_keys[0]
        _fresh_keys[0] += n
        for i in range(base, base + n):
            if raw.get(f"raw:new:{i}") is None:
                raw.set(f"raw:new:{i}", b"x" * 1070)

    cases["miss and store"] = {
        "boundcache shared= (maxsize=0)": fresh(bc_new),
        "dogpile.cache": fresh(dogpile_new),
        "raw redis-py GET + SET": raw_miss_store,
    }
    return cases, tier


# -- a 3-master Redis Cluster


def cluster_cases(cluster):
    import redis.cluster
    from dogpile.cache import make_region

    import boundcache

    tier = boundcache.RedisTier(cluster.url, secret=SECRET, namespace="cbench")
    raw = redis.cluster.RedisCluster(host="127.0.0.1", port=cluster.ports[0])

    @boundcache.lru_cache(maxsize=0, shared=tier, name="bench.bc_cluster")
    def bc_cluster(x):
        return VALUE

    region = make_region().configure(
        "dogpile.cache.redis_cluster",
        arguments={"startup_nodes": [redis.cluster.ClusterNode("127.0.0.1", cluster.ports[0])]},
    )

    @region.cache_on_arguments()
    def dogpile_cluster(x):
        return VALUE

    bc_cluster(1), dogpile_cluster(1)
    raw.set("raw:1", b"x" * 1070)

    loop = repeat

    bc_new, dogpile_new = new_key_functions(tier, region)

    cases = {
        "cluster Redis hit": {
            "boundcache shared= (maxsize=0)": loop(bc_cluster),
            "dogpile.cache (redis_cluster)": loop(dogpile_cluster),
            "raw RedisCluster GET": loop(lambda x: raw.get("raw:1")),
        },
        "cluster miss and store": {
            "boundcache shared= (maxsize=0)": fresh(bc_new),
            "dogpile.cache (redis_cluster)": fresh(dogpile_new),
        },
    }
    return cases, tier


# -- async libraries


async def async_cases(url, port):
    """Made and timed in one event loop: the peers' clients belong to the loop that made them."""
    import redis.asyncio as aredis
    from aiocache import Cache, cached
    from aiocache.serializers import PickleSerializer
    from cashews import Cache as CashewsCache

    import boundcache

    tier = boundcache.RedisTier(url, secret=SECRET, namespace="abench")
    cashews_remote = CashewsCache()
    cashews_remote.setup(url, client_side=False)
    cashews_local = CashewsCache()
    cashews_local.setup(url, client_side=True)

    @boundcache.lru_cache(maxsize=1024)
    async def bc_local(x):
        return VALUE

    @boundcache.lru_cache(maxsize=1024, shared=tier, name="bench.bc_shared")
    async def bc_shared(x):
        return VALUE

    @boundcache.lru_cache(maxsize=0, shared=tier, name="bench.bc_redis")
    async def bc_redis(x):
        return VALUE

    @cashews_remote(ttl="1h")
    async def cashews_f(x):
        return VALUE

    @cashews_local(ttl="1h")
    async def cashews_cs(x):
        return VALUE

    @cached(cache=Cache.REDIS, endpoint="127.0.0.1", port=port, serializer=PickleSerializer(), namespace="aio")
    async def aiocache_f(x):
        return VALUE

    def loop(f):
        def make():
            async def run(n):
                for _ in range(n):
                    await f(1)

            return run

        return make

    client = aredis.Redis(port=port)
    await client.set("raw:1", b"x" * 1070)

    def raw_loop():
        async def run(n):
            for _ in range(n):
                await client.get("raw:1")

        return run

    async def warm():
        for f in (bc_local, bc_shared, bc_redis, cashews_f, cashews_cs, aiocache_f):
            await f(1)

    await warm()
    cases = {
        "async local hit": {
            "boundcache": loop(bc_local),
            "boundcache shared=": loop(bc_shared),
            "cashews client_side=True": loop(cashews_cs),
        },
        "async Redis hit": {
            "boundcache shared= (maxsize=0)": loop(bc_redis),
            "cashews": loop(cashews_f),
            "aiocache": loop(aiocache_f),
            "raw redis.asyncio GET": raw_loop,
        },
    }
    return cases, tier


# -- stampede: 8 processes x 50 threads on one cold key

STAMPEDE_CHILD = textwrap.dedent(
    """
    import sys, threading, time
    import redis
    lib, url, port, threads, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    counter = redis.Redis(port=port)

    def compute(x):
        counter.incr("computations:" + lib)
        time.sleep(0.2)  # a slow backend
        return ("value", x)

    if lib == "boundcache":
        import boundcache
        tier = boundcache.RedisTier(url, secret=b"bench-secret-0123456789abcdef", namespace="stampede")
        f = boundcache.lru_cache(maxsize=16, shared=tier, lock=True)(compute)
    elif lib == "boundcache (no lock)":
        import boundcache
        tier = boundcache.RedisTier(url, secret=b"bench-secret-0123456789abcdef", namespace="stampede-nolock")
        f = boundcache.lru_cache(maxsize=16, shared=tier)(compute)
    else:
        from dogpile.cache import make_region
        region = make_region().configure("dogpile.cache.redis", arguments={
            "host": "127.0.0.1", "port": port, "db": 0, "distributed_lock": True, "thread_local_lock": False, "lock_timeout": 30,
            "redis_expiration_time": 3600})
        f = region.cache_on_arguments()(compute)

    barrier = threading.Barrier(threads)
    results = []
    def run():
        barrier.wait()
        while not counter.exists("go:" + lib):
            time.sleep(0.001)
        results.append(f(key))
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts: t.start()
    print("ready", flush=True)
    for t in ts: t.join()
    assert results == [("value", key)] * threads
    print("done", flush=True)
    """
)


def stampede(server, lib, processes, threads):
    import redis

    client = redis.Redis(port=server.port)
    script = Path(tempfile.mkdtemp(prefix="bench-stampede-")) / "child.py"
    script.write_text(STAMPEDE_CHILD)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), lib, server.url, str(server.port), str(threads), "cold"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    client.set("go:" + lib, 1)
    for p in procs:
        assert p.stdout.readline().strip() == "done", lib
        p.wait()
    wall = time.perf_counter() - start
    shutil.rmtree(script.parent, ignore_errors=True)
    return {"computations": int(client.get("computations:" + lib) or 0), "wall_s": wall}


def versions():
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for dist in ("boundcache", "redis", "dogpile.cache", "cashews", "aiocache"):
        try:
            out[dist] = version(dist)
        except Exception:  # noqa: BLE001
            out[dist] = "?"
    out["redis-server"] = subprocess.run(
        [shutil.which("redis-server") or "/usr/bin/redis-server", "--version"], capture_output=True, text=True
    ).stdout.split()[2]
    return out


def measure(smoke):
    n_local, n_redis, repeats = (200, 20, 1) if smoke else (200_000, 3_000, 7)
    procs, threads = (2, 4) if smoke else (8, 50)
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-redis-"))
    server = Server(work)
    server.start()
    cluster = Cluster(work / "cluster")
    (work / "cluster").mkdir()
    cluster.start()
    try:
        results = {}
        cases, tier = sync_cases(server.url, server.port)
        for scenario, libs in cases.items():
            n = n_local if "local" in scenario else n_redis
            results[scenario] = best(libs, n, repeats)
        tier.close()

        async def timed():
            acases, atier = await async_cases(server.url, server.port)
            for scenario, libs in acases.items():
                n = n_local // 4 if "local" in scenario else n_redis
                results[scenario] = await abest(libs, n, repeats)
            atier.close()

        asyncio.run(timed())
        ccases, ctier = cluster_cases(cluster)
        for scenario, libs in ccases.items():
            results[scenario] = best(libs, n_redis, repeats)
        ctier.close()
        results["stampede"] = {
            lib: stampede(server, lib, procs, threads) for lib in ("boundcache", "boundcache (no lock)", "dogpile.cache")
        }
    finally:
        server.stop()
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    from shared_faults import measure_faults, summary

    faults = {} if smoke else {s: {lib: summary(o) for lib, o in libs.items()} for s, libs in measure_faults().items()}
    load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return {"results": results, "faults": faults, "versions": versions(), "cpus": os.cpu_count(), "load": load,
            "smoke": smoke}  # fmt: skip


def write_report(data):
    results = data["results"]
    lines = [
        "# The Redis tier against its peers",
        "",
        "`python bench/run.py --shared` (bench/shared.py): one local `redis-server` "
        f"{data['versions']['redis-server']}, started by the harness; Python {data['versions']['python']}, "
        f"{data['cpus']} CPUs. Microseconds per call, best of 7 loops, the libraries of a table interleaved. Versions: "
        + ", ".join(f"{k} {v}" for k, v in data["versions"].items() if k not in ("python", "redis-server"))
        + ". The value is a dict holding 1 KB of bytes."
        + (f" Load average (1 min) at the start and the end: {data['load'][0]}, {data['load'][1]}." if "load" in data
           else ""),
        "",
    ]
    for scenario, libs in results.items():
        if scenario == "stampede":
            continue
        lines += [f"## {scenario}", "", "| library | µs per call |", "| --- | ---: |"]
        lines += [f"| {lib} | {us:.3f} |" for lib, us in libs.items()]
        lines.append("")
    local = results["local hit"]
    ratio = local["boundcache shared="] / local["boundcache"]
    lines += [f"Local-tier hit ratio, boundcache with / without `shared=`: **{ratio:.2f}** (contract: <= 1.2).", ""]
    lines += [
        "## stampede: 8 processes x 50 threads, one cold key, 0.2 s computation",
        "",
        "| library | computations | wall time (s) |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {lib} | {r['computations']} | {r['wall_s']:.2f} |" for lib, r in results["stampede"].items()]
    lines.append("")
    lines += fault_table(data.get("faults", {}))
    chart = HERE / "charts" / "shared.png"
    if _chart(results, chart):
        lines += ["![Redis-tier hits](charts/shared.png)", ""]
    (HERE / "SHARED.md").write_text("\n".join(lines))


def fault_table(faults):
    """The faults section (bench/shared_faults.py): one row per library and scenario."""
    from shared_faults import CAP, KEYS

    if not faults:
        return []
    lines = [
        "## faults",
        "",
        (
            "Each library in its own process, configured with its defaults, stores keys, then is called on "
            f"{KEYS} new keys once the fault is in place (with writes refused: the {KEYS} stored keys first, then "
            f"{KEYS} new ones); a process still running {CAP:.0f} s after the fault is killed (\"hung\"). Seconds per "
            "call; \"raised\" counts calls where an exception reached the caller; \"stored recomputed\" counts stored "
            "keys that were computed again instead of read from Redis. boundcache runs with `maxsize=0`, so that every "
            "call goes to Redis as the peers' do."
        ),
        "",
    ]
    for scenario, libs in faults.items():
        header = "| library | calls done | first call (s) | slowest later call (s) | raised | hung | stored recomputed |"
        lines += [f"### {scenario}", "", header, "| --- | ---: | ---: | ---: | --- | --- | ---: |"]
        for lib, r in libs.items():
            raised = f"{r['errors']} ({', '.join(r['error_types'])})" if r["errors"] else "0"
            cells = [
                lib,
                str(r["calls"]),
                _seconds(r["first_s"]),
                _seconds(r["max_later_s"]),
                raised,
                f"yes, killed at {CAP:.0f} s" if r["hung"] else "no",
                "-" if r["recomputed_stored"] is None or "refused" not in scenario else str(r["recomputed_stored"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _seconds(value):
    return "-" if value is None else f"{value:.4f}" if value < 1 else f"{value:.2f}"


def _chart(results, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [(f"{s}: {lib}", us) for s in ("Redis hit", "async Redis hit") for lib, us in results[s].items()]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(rows) + 1))
    ax.barh([r[0] for r in rows][::-1], [r[1] for r in rows][::-1])
    ax.set_xlabel("µs per call (lower is better)")
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=100)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny counts, prints, writes nothing")
    args = parser.parse_args(argv)
    data = measure(args.smoke)
    if args.smoke:
        print(json.dumps(data, indent=1))
        return 0
    out = HERE / "results" / "shared.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(data, indent=1))
    write_report(data)
    print((HERE / "SHARED.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
