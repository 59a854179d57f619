"""A Redis Cluster (3 masters) and a Sentinel-managed master, started once per session (conftest):
sharing, cache_clear(), cache_delete() and lock=True across slots and nodes, sync and async,
and a master killed mid-run."""

import asyncio
import threading
import time
import uuid

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel

import boundcache

SECRET = b"test-secret-0123456789"
BOUND = 3.0  # generous: the tier's timeout is 0.25 s; only a hang or a retry storm fails


@pytest.fixture
def space():
    """A tier namespace of the test's own: the servers live for the whole session."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def tiers():
    made = []

    def make(target, **kwargs):
        kwargs.setdefault("secret", SECRET)
        kwargs.setdefault("retry_interval", 0.2)
        tier = boundcache.RedisTier(**kwargs, **({"client": target} if not isinstance(target, str) else {"url": target}))
        made.append(tier)
        return tier

    yield make
    for tier in made:
        tier.close()


def twin(tier, calls, **options):
    @boundcache.lru_cache(shared=tier, name="tests.square", **options)
    def square(x):
        calls.append(x)
        return ("sq", x * x)

    return square


def atwin(tier, calls, **options):
    @boundcache.lru_cache(shared=tier, name="tests.asquare", **options)
    async def square(x):
        calls.append(x)
        await asyncio.sleep(0)
        return ("sq", x * x)

    return square


def check_sharing_clear_delete(a, b, calls_a, calls_b, keys, wait_until, n=40):
    assert [a(i) for i in range(n)] == [("sq", i * i) for i in range(n)]
    assert [b(i) for i in range(n)] == [("sq", i * i) for i in range(n)]
    assert calls_a == list(range(n)) and calls_b == []  # every key shared, whatever its slot
    assert len(keys()) == n
    # cache_delete: here, in Redis, and in the other process's local cache
    assert a.cache_delete(3) is True
    assert a.cache_delete(3) is False
    assert wait_until(lambda: b.cache_info().currsize == n - 1)
    assert b(3) == ("sq", 9) and calls_b == [3]
    # cache_clear: one generation replaced, every node's values unreachable at once
    a.cache_clear()
    assert wait_until(lambda: b.cache_info().currsize == 0)
    assert b(5) == ("sq", 25) and calls_b == [3, 5]
    assert wait_until(lambda: len(keys()) == 1)  # the old generation swept, node by node


def test_cluster_url_shares_clears_and_deletes_across_slots(cluster, tiers, space, wait_until):
    calls_a, calls_b = [], []
    a, b = twin(tiers(cluster.url, namespace=space), calls_a), twin(tiers(cluster.url, namespace=space), calls_b)
    keys = lambda: cluster.keys(f"{space}:v:*")
    check_sharing_clear_delete(a, b, calls_a, calls_b, keys, wait_until)
    for i in range(100, 140):
        a(i)
    holding = [port for port in cluster.ports if redis.Redis(port=port).keys(f"{space}:v:*")]
    assert holding == cluster.ports  # one function's values spread over every master


def test_cluster_clients_given_sync_and_async(cluster, tiers, space, wait_until):
    sync_client = redis.cluster.RedisCluster(host="127.0.0.1", port=cluster.ports[0])  # redis-py's defaults
    async_client = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=cluster.ports[1])
    calls_a, calls_b = [], []
    a = atwin(tiers(sync_client, namespace=space), calls_a)
    b = atwin(tiers(async_client, namespace=space), calls_b)

    async def main():
        first = [await a(i) for i in range(20)]
        second = [await b(i) for i in range(20)]
        return first, second

    first, second = asyncio.run(main())
    assert first == second == [("sq", i * i) for i in range(20)]
    assert calls_a == list(range(20)) and calls_b == []
    assert a.cache_delete(4) is True
    assert wait_until(lambda: b.cache_info().currsize == 19)
    a.cache_clear()
    assert wait_until(lambda: b.cache_info().currsize == 0)
    assert asyncio.run(b(4)) == ("sq", 16) and calls_b == [4]
    sync_client.close()


def test_cluster_node_url_becomes_a_cluster_client(cluster, tiers, space):
    # A redis:// URL of one node: other slots answer MOVED, and the tier uses the node as the cluster's.
    calls_a, calls_b = [], []
    a = twin(tiers(f"redis://127.0.0.1:{cluster.ports[0]}/0", namespace=space), calls_a)
    b = twin(tiers(cluster.url, namespace=space), calls_b)
    results = [a(i) for i in range(30)]
    assert results == [("sq", i * i) for i in range(30)]
    assert [b(i) for i in range(30)] == results
    assert len(calls_b) <= 3  # at most the calls that met MOVED before the switch were not stored
    assert a.shared.info().errors <= 1  # the MOVED answer, if any; never an outage


@pytest.mark.parametrize("topology", ["cluster", "sentinel"])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_lock_true_computes_once_across_tiers(request, tiers, space, topology, kind):
    url = request.getfixturevalue(topology).url
    calls = []
    lock = threading.Lock()

    def slow(tier):
        if kind == "sync":

            def slow_square(x):
                with lock:
                    calls.append(x)
                time.sleep(0.2)
                return x * x

        else:

            async def slow_square(x):
                calls.append(x)
                await asyncio.sleep(0.2)
                return x * x

        return boundcache.lru_cache(shared=tier, name="tests.slow", lock=True)(slow_square)

    # timeout=2: on a loaded machine a 0.25 s timeout would send a tier to compute on its own (a fault, not this test's)
    functions = [slow(tiers(url, namespace=space, timeout=2)) for _ in range(4)]
    if kind == "sync":
        results = []
        threads = [threading.Thread(target=lambda f=f: results.append(f(7))) for f in functions for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:

        async def main():
            return await asyncio.gather(*(f(7) for f in functions))

        results = asyncio.run(main()) * 4
    assert results == [49] * 16 and calls == [7]


def calls_during(f, kind, keys, fault):
    """Calls f on each key while ``fault()`` runs in another thread; [(result or exception, seconds)]."""
    started = threading.Event()
    done = threading.Event()
    seen = []
    after = []  # calls made once the fault is in place: 30 of them end the run

    def faulting():
        started.wait()
        try:
            fault()
        finally:
            done.set()

    async def acall(x):
        return await f(x)

    async def run_async():
        started.set()
        for x in keys:
            t = time.monotonic()
            try:
                seen.append((await acall(x), time.monotonic() - t))
            except BaseException as exc:  # noqa: BLE001 - collected: nothing may reach a caller
                seen.append((exc, time.monotonic() - t))
            await asyncio.sleep(0.005)
            if done.is_set() and len(after.append(x) or after) >= 30:
                break

    def run_sync():
        started.set()
        for x in keys:
            t = time.monotonic()
            try:
                seen.append((f(x), time.monotonic() - t))
            except BaseException as exc:  # noqa: BLE001
                seen.append((exc, time.monotonic() - t))
            time.sleep(0.005)
            if done.is_set() and len(after.append(x) or after) >= 30:
                break

    thread = threading.Thread(target=faulting)
    thread.start()
    try:
        asyncio.run(run_async()) if kind == "async" else run_sync()
    finally:
        thread.join()
    return seen


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_cluster_master_killed_midrun(cluster, tiers, space, shared_log, kind):
    calls = []
    tier = tiers(cluster.url, namespace=space)
    f = twin(tier, calls) if kind == "sync" else atwin(tier, calls)
    victim = cluster.ports[2]  # keys spread over all three masters
    seen = calls_during(f, kind, range(200), lambda: (time.sleep(0.05), cluster.stop_node(victim)))
    try:
        assert [r for r, _ in seen] == [("sq", x * x) for x in range(len(seen))]  # never an error
        assert max(d for _, d in seen) < BOUND
    finally:
        cluster.start_node(victim)
        cluster.wait_ok()
    assert tier.info().errors >= 1
    assert len([r for r in shared_log.records if "failed" in r.getMessage()]) == 1


def test_sentinel_url_sync_and_async_use_the_master(sentinel, tiers, space, wait_until):
    calls_a, calls_b = [], []
    a, b = twin(tiers(sentinel.url, namespace=space), calls_a), twin(tiers(sentinel.url, namespace=space), calls_b)
    master = redis.Redis(port=sentinel.master())
    keys = lambda: master.keys(f"{space}:v:*")
    check_sharing_clear_delete(a, b, calls_a, calls_b, keys, wait_until, n=10)
    # async functions reach the same master (they once connected to localhost:6379)
    acalls = []
    af = atwin(tiers(sentinel.url, namespace=space), acalls)
    assert asyncio.run(af(2)) == ("sq", 4)
    assert master.keys(f"{space}:v:tests.asquare:*")


def test_sentinel_clients_given(sentinel, tiers, space):
    sync_client = redis.sentinel.Sentinel([("127.0.0.1", sentinel.port)]).master_for(sentinel.service)
    async_client = redis.asyncio.sentinel.Sentinel([("127.0.0.1", sentinel.port)]).master_for(sentinel.service)
    calls = []
    a = atwin(tiers(sync_client, namespace=space), calls)  # an async function, on a tier given a sync client
    b = twin(tiers(async_client, namespace=space), calls)  # and the other way round
    assert asyncio.run(a(6)) == ("sq", 36)
    assert redis.Redis(port=sentinel.master()).keys(f"{space}:v:tests.asquare:*")
    assert b(6) == ("sq", 36) and calls == [6, 6]  # another function, another namespace
    assert "password" not in repr(a.shared)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_sentinel_master_killed_midrun_fails_over(sentinel, tiers, space, wait_until, kind):
    calls = []
    tier = tiers(sentinel.url, namespace=space, retry_interval=0.1)
    f = twin(tier, calls) if kind == "sync" else atwin(tier, calls)
    call = f if kind == "sync" else (lambda x: asyncio.run(f(x)))
    killed = []
    seen = calls_during(f, kind, range(100, 100_000), lambda: (time.sleep(0.05), killed.append(sentinel.kill_master())))
    old = killed[0]
    assert [r for r, _ in seen] == [("sq", x * x) for x in range(100, 100 + len(seen))]
    assert max(d for _, d in seen) < BOUND
    # sharing resumes on the new master (Sentinel may need a moment to report it to a new client)
    assert wait_until(lambda: call(10_000 + len(calls)) and redis.Redis(port=sentinel.master()).keys(f"{space}:v:*"))
    key = calls[-1]

    def shared_again():
        other = []
        tier = tiers(sentinel.url, namespace=space)
        g = twin(tier, other) if kind == "sync" else atwin(tier, other)
        assert (g(key) if kind == "sync" else asyncio.run(g(key))) == ("sq", key * key)
        tier.close()
        time.sleep(0.05 * bool(other))
        return other == []

    assert wait_until(shared_again)
    sentinel.restart(old)
