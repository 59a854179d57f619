"""The rules of issue 24 on one server: names, configuration errors, credentials, clients with
redis-py's defaults, refused writes, fork, serializers, cache_delete and stale= across processes."""

import asyncio
import functools
import json
import logging
import os
import threading
import time

import pytest
import redis
import redis.asyncio

import boundcache

BOUND = 3.0  # generous: the tier's timeout is 0.25 s


# -- names


def test_closures_and_lambdas_need_a_name(make_tier):
    tier = make_tier()

    def factory(n):
        def scaled(x):
            return x * n

        return scaled

    with pytest.raises(TypeError, match=r"closure or a lambda.*name='thumbnails-v1'"):
        boundcache.lru_cache(shared=tier)(factory(2))
    with pytest.raises(TypeError, match="closure or a lambda"):
        boundcache.lru_cache(shared=tier)(lambda x: x)
    with pytest.raises(TypeError, match="partial has no name"):
        boundcache.lru_cache(shared=tier)(functools.partial(max, 0))
    with pytest.raises(TypeError, match="give shared="):
        boundcache.lru_cache(name="x")
    with pytest.raises(TypeError, match="non-empty str"):
        boundcache.lru_cache(shared=tier, name="")(factory(1))
    # named, two functions of one factory never answer for each other (tenfold(3) once gave 6)
    double = boundcache.lru_cache(shared=tier, name="tests.double")(factory(2))
    tenfold = boundcache.lru_cache(shared=make_tier(), name="tests.tenfold")(factory(10))
    assert double(3) == 6 and tenfold(3) == 30


# -- configuration errors, at construction


@pytest.mark.parametrize(
    "url, message",
    [
        ("not a url", "not a URL"),
        ("http://h:1", "unknown scheme"),
        ("redis://h:port/0", "cannot be parsed"),
        ("redis://h:1/x", "cannot be parsed"),
        ("redis+cluster://h", "not host:port"),
        ("redis+cluster://h:1/0", "no path"),
        ("redis+sentinel://h:26379", "names the service"),
        ("redis+sentinel://h:26379/svc/db", "not a number"),
    ],
)
def test_an_unparsable_url_raises_valueerror_in_the_constructor(url, message):
    with pytest.raises(ValueError, match=message):
        boundcache.RedisTier(url)


def test_serializer_arguments():
    with pytest.raises(ValueError, match="needs a secret"):
        boundcache.RedisTier(serializer="pickle")
    with pytest.raises(ValueError, match="dumps, loads"):
        boundcache.RedisTier(serializer="yaml")
    with pytest.raises(ValueError, match="compress_above"):
        boundcache.RedisTier(compress_above=-1)
    with pytest.raises(TypeError, match="RedisCluster"):
        boundcache.RedisTier(client=object())


# -- credentials


def test_credentials_never_appear_in_repr_or_warnings(shared_log, server):
    url = f"redis://app:hunter2-secret@127.0.0.1:{server.port}/0?password=hunter2-secret"
    tiers = [
        boundcache.RedisTier(url, secret=b"s" * 16, retry_interval=60),
        boundcache.RedisTier(
            "redis+sentinel://:hunter2-secret@127.0.0.1:1/svc?sentinel_password=hunter2-secret", secret=b"s" * 16
        ),
        boundcache.RedisTier(client=redis.Redis(port=server.port, password="hunter2-secret"), secret=b"s" * 16),
    ]
    server.stop()
    try:
        for i, tier in enumerate(tiers):
            assert "hunter2" not in repr(tier) and "hunter2" not in str(tier.url)
            f = boundcache.lru_cache(shared=tier, name=f"tests.cred{i}")(lambda x: x)
            assert f(1) == 1
        assert shared_log.records and "hunter2" not in shared_log.text
        assert "***" in repr(tiers[0])
    finally:
        for tier in tiers:
            tier.close()


# -- a client with redis-py's defaults is used within the tier's bounds


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_client_with_redis_py_defaults_is_bounded(server, kind):
    # redis-py 8: no socket timeout and 3 retries with backoff; the first call once took 59 s
    client = redis.Redis(port=server.port) if kind == "sync" else redis.asyncio.Redis(port=server.port)
    tier = boundcache.RedisTier(client=client, secret=b"s" * 16, retry_interval=60)
    try:
        if kind == "sync":
            f = boundcache.lru_cache(shared=tier, name="tests.bounded")(lambda x: x)

            def calls(keys):
                return [f(x) for x in keys]

        else:

            async def g(x):
                return x

            f = boundcache.lru_cache(shared=tier, name="tests.abounded")(g)

            async def each(keys):
                return [await f(x) for x in keys]

            def calls(keys):  # one event loop, as a service runs them
                return asyncio.run(each(keys))

        assert calls([0]) == [0]
        server.pause()
        try:
            start = time.monotonic()
            assert calls(range(1, 20)) == list(range(1, 20))
            assert time.monotonic() - start < BOUND
        finally:
            server.resume()
        assert tier.info().errors == 1
    finally:
        tier.close()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_unreachable_sentinels_cost_one_bounded_call(kind):
    # redis-py's sentinel clients retry 3 times with backoff: the first call once took 4.3 s
    tier = boundcache.RedisTier("redis+sentinel://127.0.0.1:1,127.0.0.1:2/svc", secret=b"s" * 16)
    try:

        async def fetch(x):
            return x

        f = boundcache.lru_cache(shared=tier, name=f"tests.sentinels-{kind}")(fetch if kind == "async" else (lambda x: x))
        start = time.monotonic()
        assert (asyncio.run(f(1)) if kind == "async" else f(1)) == 1
        assert time.monotonic() - start < BOUND
    finally:
        tier.close()


# -- refused writes do not stop reads


def test_reads_survive_refused_writes(server, make_tier, shared_log):
    # timeout=2: on a loaded machine a timed-out read would skip Redis (a fault, not this test's)
    a = make_tier(timeout=2)
    calls = []
    f = boundcache.lru_cache(shared=a, name="tests.oom")(lambda x: calls.append(x) or ("v", x))
    for i in range(20):
        f(i)
    admin = server.client()
    admin.config_set("maxmemory-policy", "noeviction")
    # Below what the server already uses, so that every write is refused from now on. (Filling up
    # to a limit left room: once the last filler's query buffer was freed, small writes fit again.)
    admin.config_set("maxmemory", 1)
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            admin.set("filler", b"x")
        b = make_tier(timeout=2)
        other = []
        g = boundcache.lru_cache(shared=b, name="tests.oom")(lambda x: other.append(x) or ("v", x))
        for i in range(20, 40):  # each store refused
            assert g(i) == ("v", i)
        assert [g(i) for i in range(20)] == [("v", i) for i in range(20)]  # still read from Redis
        assert other == list(range(20, 40))
        info = b.info()
        # every store refused, every read answered
        assert info.hits == 20 and info.errors == 20, (info, shared_log.text)
        refusals = [r for r in shared_log.records if "refuses writes" in r.getMessage()]
        assert len(refusals) == 1 and not [r for r in shared_log.records if "failed" in r.getMessage()]
    finally:
        admin.config_set("maxmemory", 0)


# -- fork


def test_a_child_forked_while_another_thread_holds_the_locks_works_at_once(make_tier):
    import warnings

    tier = make_tier()
    f = boundcache.lru_cache(shared=tier, name="tests.forked")(lambda x: ("v", x))
    f(1)
    pool_lock = tier._sync().connection_pool._lock
    held, release = threading.Event(), threading.Event()

    def hold():
        with tier._lock, pool_lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    read, write = os.pipe()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads running
            pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 1
            try:
                os.close(read)
                signal_alarm(10)  # a hang fails the test instead of blocking it
                ok = f(2) == ("v", 2) and f(1) == ("v", 1) and tier.info().errors == 0
                g = boundcache.lru_cache(shared=tier, name="tests.forked")(lambda x: ("other", x))
                ok = ok and g(2) == ("v", 2)  # stored in Redis by the child's first call
                os.write(write, b"ok" if ok else b"no")
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        answer = os.read(read, 2)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        holder.join()
    assert answer == b"ok" and os.waitstatus_to_exitcode(status) == 0


def signal_alarm(seconds):
    import signal

    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(seconds)


# -- serializers and compression


def test_json_values_are_signed_and_readable_by_other_services(make_tier, server):
    calls = []
    tiers = [make_tier(serializer="json") for _ in range(2)]
    f, g = (boundcache.lru_cache(shared=t, name="tests.doc")(lambda x: calls.append(x) or {"id": x, "tags": ["a"]})
            for t in tiers)  # fmt: skip
    assert f(1) == g(1) == {"id": 1, "tags": ["a"]} and calls == [1]
    (key,) = server.client().keys("*:v:*")
    record = server.client().get(key)
    assert record[:3] == b"BC2" and record[3:5] == b"JN"
    assert json.loads(record[13 + 32 :]) == {"id": 1, "tags": ["a"]}  # header, HMAC, then the JSON text
    server.client().set(key, record[:-2] + b"9}")  # changed after signing: refused
    h = boundcache.lru_cache(shared=make_tier(serializer="json"), name="tests.doc")(lambda x: calls.append(x) or 0)
    assert h(1) == 0 and h.shared.info().invalid == 1
    unsigned = make_tier(serializer="json", secret=None)  # JSON runs no code: no secret needed
    assert boundcache.lru_cache(shared=unsigned, name="tests.doc2")(lambda x: [x])(5) == [5]
    lost = boundcache.lru_cache(shared=tiers[0], name="tests.set")(lambda x: {x})
    assert lost(1) == {1} and tiers[0].info().unshared == 1  # no JSON for a set: kept local


def test_a_dumps_loads_pair_and_compression(make_tier, server):
    pair = (lambda v: v.encode(), lambda b: b.decode())
    big = "abc" * 70_000  # 210 KB, compressible
    f = boundcache.lru_cache(shared=make_tier(serializer=pair), name="tests.big")(lambda x: big)
    g = boundcache.lru_cache(shared=make_tier(serializer=pair), name="tests.big")(lambda x: "other")
    assert f(1) == big and g(1) == big
    assert f.shared.info().bytes_sent < 5_000  # once sent as 210,045 bytes
    plain = boundcache.lru_cache(shared=make_tier(compress_above=None), name="tests.big2")(lambda x: big)
    plain(1)
    assert plain.shared.info().bytes_sent > len(big)


# -- cache_delete and stale= across processes


def test_cache_delete_reaches_redis_and_other_processes(make_tier, server, wait_until):
    calls = []

    class Handler:
        @boundcache.lru_cache(shared=make_tier(), name="tests.render", key=lambda self, path: path)
        def render(self, path):
            calls.append(path)
            return path.upper()

    assert Handler().render("a") == "A"
    other = []
    g = boundcache.lru_cache(shared=make_tier(), name="tests.plain")(lambda x, y=1: other.append(x) or x + y)
    h = boundcache.lru_cache(shared=make_tier(), name="tests.plain")(lambda x, y=1: other.append(x) or x + y)
    assert g(1, y=2) == h(1, y=2) == 3 and other == [1]
    assert h.cache_delete(1, y=2) is True  # here, Redis, and g's local copy
    assert wait_until(lambda: g.cache_info().currsize == 0)
    assert g.cache_delete(1, y=2) is False
    Handler().render("b")
    assert Handler().render.cache_delete("b") is True  # obj.m of a key= method: through the tier
    assert Handler.render.cache_info().currsize == 1 and len(server.client().keys("*:v:tests.render:*")) == 1

    @boundcache.lru_cache(shared=make_tier(), name="tests.adelete")
    async def fetch(x):
        return x

    assert asyncio.run(fetch(1)) == 1
    assert fetch.cache_delete(1) is True and fetch.cache_delete(1) is False


def test_stale_refresh_under_one_lease_across_processes(make_tier, caplog):
    caplog.set_level(logging.ERROR, logger="boundcache.stale")
    computed = []
    gate = threading.Event()

    def make(tier):
        @boundcache.lru_cache(shared=tier, name="tests.stale", ttl=0.1, stale=30)
        def price(item):
            computed.append(item)
            if len(computed) > 1:
                gate.wait(10)
            return (item, len(computed))

        return price

    a, b = make(make_tier()), make(make_tier())
    assert a("x") == ("x", 1) and b("x") == ("x", 1) and computed == ["x"]
    time.sleep(0.15)
    refreshed = []
    refresher = threading.Thread(target=lambda: refreshed.append(a("x")))
    refresher.start()
    while len(computed) < 2:
        time.sleep(0.005)
    assert b("x") == ("x", 1)  # another process: the lease is taken, the stale value at once
    gate.set()
    refresher.join()
    assert refreshed == [("x", 2)] and len(computed) == 2
    time.sleep(0.06)
    assert b("x") == ("x", 2)  # b's own refresh finds the fresh value in Redis: no computation
    assert len(computed) == 2
