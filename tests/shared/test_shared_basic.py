"""lru_cache(shared=RedisTier(...)) against a real redis-server (contract section 8)."""

import pickle

import pytest
import redis

import boundcache
from boundcache._shared import _keys


def twin(tier, calls, **options):
    """The same function (same module and qualified name, so the same namespace)
    as another process would define it, cached with ``tier``."""

    @boundcache.lru_cache(shared=tier, name="tests.render", **options)
    def render(path, size=64):
        calls.append((path, size))
        return {"path": path, "size": size, "pixels": (path * 2, size * 3)}

    return render


def redis_keys(server, pattern="*:v:*"):  # values; generations (*:g:*) aside
    return sorted(k.decode() for k in server.client().keys(pattern))


def test_a_result_computed_in_one_process_is_a_hit_in_another(make_tier):
    calls_a, calls_b = [], []
    a = twin(make_tier(), calls_a)
    b = twin(make_tier(), calls_b)
    assert a("x.png", size=32) == {"path": "x.png", "size": 32, "pixels": ("x.pngx.png", 96)}
    assert b("x.png", size=32) == a("x.png", size=32)
    assert calls_a == [("x.png", 32)] and calls_b == []
    # keyword order, values and types are part of the key, as in functools
    b("x.png", 32)
    assert calls_b == [("x.png", 32)]
    # locally 32 == 32.0 is one entry (functools); in Redis the encoding keeps types apart
    calls_c = []
    twin(make_tier(), calls_c)("x.png", size=32.0)
    assert calls_c == [("x.png", 32.0)]
    assert a.cache_info().hits == 1 and a.cache_info().misses == 1  # local statistics, as before
    assert b.cache_info().misses == 2


def test_local_hits_do_not_reach_redis(make_tier, server):
    tier = make_tier()
    f = twin(tier, [])
    f("a")
    before = tier.info()
    server.pause()  # a local hit would hang or fail if it talked to Redis
    try:
        for _ in range(100):
            f("a")
    finally:
        server.resume()
    assert tier.info() == before
    assert f.cache_info().hits == 100


def test_statistics(make_tier):
    tier = make_tier()
    f, g = twin(tier, []), twin(make_tier(), [])
    f("a")
    info = tier.info()
    assert (info.hits, info.misses, info.errors) == (0, 1, 0)
    assert info.bytes_sent > 0 and info.bytes_received == 0
    g("a")
    other = g.shared.info()
    assert (other.hits, other.misses, other.bytes_received) == (1, 0, info.bytes_sent)


def test_ttl_applies_in_redis(make_tier, server):
    f = twin(make_tier(), [], ttl=30)
    f("a")
    (key,) = redis_keys(server)
    assert 0 < server.client().pttl(key) <= 30_000
    server.client().flushall()
    g = twin(make_tier(), [])
    g("a")
    (key,) = redis_keys(server)
    assert server.client().pttl(key) == -1  # no ttl: no expiry


def test_namespaces_per_function_and_tier(make_tier, server):
    tier = make_tier(namespace="svc")

    @boundcache.lru_cache(shared=tier, name="tests.one")
    def one(x):
        return ("one", x)

    @boundcache.lru_cache(shared=tier, name="tests.two")
    def two(x):
        return ("two", x)

    assert one(1) == ("one", 1) and two(1) == ("two", 1)
    keys = redis_keys(server)
    assert len(keys) == 2
    assert all(k.startswith("svc:v:") for k in keys)
    assert any(".one:" in k for k in keys) and any(".two:" in k for k in keys)


def test_key_method_shared_and_per_instance_method_refused(make_tier):
    tier = make_tier()
    calls = []

    class Handler:
        @boundcache.lru_cache(shared=tier, name="tests.render", key=lambda self, path: path)
        def render(self, path):
            calls.append(path)
            return path.upper()

        @staticmethod
        @boundcache.lru_cache(shared=tier, name="tests.helper")
        def helper(x):
            return x + 1

    assert Handler().render("a") == Handler().render("a") == "A"
    assert calls == ["a"]
    assert Handler.helper(1) == 2

    with pytest.raises(TypeError, match="cannot be shared.*key="):

        class PerInstance:
            @boundcache.lru_cache(shared=tier, name="tests.render")
            def render(self, path):
                return path

    with pytest.raises(TypeError, match="classmethod"):

        class PerClass:
            @boundcache.lru_cache(shared=tier, name="tests.load")
            @classmethod
            def load(cls, name):
                return name

    with pytest.raises(TypeError, match="shared= must be a boundcache.RedisTier"):
        boundcache.lru_cache(shared="redis://localhost")


def test_cache_clear_clears_redis_and_other_processes(make_tier, server, wait_until):
    calls_a, calls_b = [], []
    a = twin(make_tier(), calls_a)
    b = twin(make_tier(), calls_b)
    a("x")
    a("y")
    b("x")  # b holds "x" locally now
    assert calls_b == [] and len(redis_keys(server, "*:v:*")) == 2
    a.cache_clear()
    assert a.cache_info().currsize == 0
    assert redis_keys(server, "*:v:*") == []
    # b's local copy goes too, through the channel (contract: within 100 ms;
    # the bound here only catches a clear that never arrives)
    assert wait_until(lambda: b.cache_info().currsize == 0)
    assert b("x") == a("x")
    assert len(calls_a) + len(calls_b) == 3


def test_cache_clear_of_a_key_method_through_an_instance(make_tier, server):
    tier = make_tier()

    class Handler:
        @boundcache.lru_cache(shared=tier, name="tests.render", key=lambda self, path: path)
        def render(self, path):
            return path.upper()

    Handler().render("a")
    assert len(redis_keys(server, "*:v:*")) == 1
    Handler().render.cache_clear()
    assert redis_keys(server, "*:v:*") == []
    assert Handler.render.cache_info().currsize == 0


class Boom:
    """Unpickling this runs code: it must never happen for a bad entry."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_bad_signature_is_a_miss_and_is_never_unpickled(make_tier, server, tmp_path):
    tier = make_tier()
    calls = []
    f = twin(tier, calls)
    f("a")
    (key,) = redis_keys(server, "*:v:*")
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(Boom(str(marker)))
    good = server.client().get(key)
    forged = [
        b"BC1K" + b"\0" * 32 + payload,  # wrong signature
        good[:-1] + bytes([good[-1] ^ 1]),  # payload changed after signing
        b"BC1P" + payload,  # an unsigned record to a tier with a secret
        payload,  # not a boundcache record at all
        b"",
    ]
    for i, data in enumerate(forged):
        server.client().set(key, data)
        g = twin(make_tier(), calls)
        assert g("a") == f("a")
        assert g.shared.info().invalid == 1, i
    assert not marker.exists()
    assert len(calls) == 1 + len(forged)


def test_a_signed_entry_is_bound_to_its_key(make_tier, server):
    f = twin(make_tier(), [])
    f("a")
    f("b")
    ka, kb = redis_keys(server, "*:v:*")
    client = server.client()
    client.set(kb, client.get(ka))  # replayed under another key: refused
    calls = []
    g = twin(make_tier(), calls)
    assert g("a")["path"] == "a" and g("b")["path"] == "b"
    assert calls == [("b", 64)]


def test_another_secret_cannot_read_or_forge(make_tier):
    calls = []
    twin(make_tier(secret=b"one-secret-xxxxxxxx"), calls)("a")
    twin(make_tier(secret=b"another-secret-xxxx"), calls)("a")
    assert len(calls) == 2


def test_without_a_secret_plain_data_is_shared_and_pickle_refused(make_tier, server):
    tier = make_tier(secret=None)
    calls = []
    f = twin(tier, calls)
    g = twin(make_tier(secret=None), calls)
    value = f("a")
    assert g("a") == value and calls == [("a", 64)]
    plain = [None, True, 1, -(10**40), 2.5, float("inf"), 1j, "é\ud800", b"\0", (1, [2, {3: {4}}]), frozenset("ab")]

    @boundcache.lru_cache(shared=tier, name="tests.data")
    def data(i):
        return plain[i]

    for i in range(len(plain)):
        data(i)
    data.cache_clear.__self__.clear_local()  # this process forgets; Redis still has them
    got = [data(i) for i in range(len(plain))]
    assert got == plain and [type(x) for x in got] == [type(x) for x in plain]
    assert tier.info().hits >= len(plain)

    @boundcache.lru_cache(shared=tier, name="tests.obj")
    def obj(x):
        return Boom("unused")

    with pytest.raises(TypeError, match=r"secret=os.environ\['CACHE_SECRET'\]"):
        obj(1)


def test_unpicklable_results_and_unencodable_keys_stay_local(make_tier, server, shared_log):
    tier = make_tier()
    calls = []

    @boundcache.lru_cache(shared=tier, name="tests.f")
    def f(x):
        calls.append(x)
        return lambda: x  # cannot be pickled

    assert f(1)() == 1 and f(1)() == 1
    assert calls == [1] and redis_keys(server, "*:v:*") == []

    class Opaque:  # no stable encoding across processes
        pass

    @boundcache.lru_cache(shared=tier, name="tests.g")
    def g(x):
        return 5

    o = Opaque()
    assert g(o) == 5 and g(o) == 5 and g.cache_info().hits == 1
    assert redis_keys(server, "*:v:*") == []
    assert tier.info().unshared == 2
    assert "cached in this process only" in shared_log.text


def test_stable_key_encoding():
    enc = _keys.encode_key
    assert enc(frozenset({"b", "a", "c"})) == enc(frozenset({"c", "a", "b"}))
    distinct = [1, 1.0, True, "1", b"1", (1,), frozenset({1}), None, 0, -0.0, 0.0, ("a", "b"), ("ab",)]
    assert len({enc(k) for k in distinct}) == len(distinct)
    for bad in (object(), [1], {1: 2}, {1}, type("S", (str,), {})("x")):
        with pytest.raises(_keys.Unshareable):
            enc(bad)


def test_plain_decoder_rejects_garbage():
    for data in (b"", b"X", b"i\0\0\0\x02-a", b"t\xff\xff\xff\xff", b"S\0\0\0\x01l\0\0\0\0", b"NN", b"s\0\0\0\x05ab"):
        with pytest.raises(ValueError):
            _keys.decode_plain(data)
    deep = b"t\0\0\0\x01" * 200 + b"N"
    with pytest.raises(ValueError):
        _keys.decode_plain(deep)


def test_tier_arguments_are_checked():
    with pytest.raises(TypeError, match="url or a client"):
        boundcache.RedisTier("redis://x", client=object())
    with pytest.raises(TypeError, match="redis.Redis"):
        boundcache.RedisTier(client=object())
    with pytest.raises(TypeError, match="secret"):
        boundcache.RedisTier(secret=b"")
    with pytest.raises(ValueError, match="timeout"):
        boundcache.RedisTier(timeout=0)


def test_without_the_extra_the_error_names_it(tmp_path):
    import subprocess
    import sys

    code = "import sys; sys.modules['redis'] = None\nimport boundcache\nboundcache.RedisTier()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode != 0
    assert 'ImportError: boundcache.RedisTier needs redis-py: pip install "boundcache[redis]"' in out.stderr
    # import boundcache alone does not import redis
    out = subprocess.run(
        [sys.executable, "-c", "import sys, boundcache; print('redis' in sys.modules)"], capture_output=True, text=True
    )
    assert out.stdout.strip() == "False"


def test_a_given_client_is_used(server):
    client = redis.Redis(port=server.port, socket_timeout=1, socket_connect_timeout=1)
    tier = boundcache.RedisTier(client=client, secret="a str secret is fine")
    try:

        @boundcache.lru_cache(shared=tier, name="tests.f")
        def f(x):
            return x * 2

        assert f(21) == 42
        assert len(redis_keys(server, "boundcache:v:*")) == 1
    finally:
        tier.close()



def test_the_wrapper_is_the_core_wrapper(make_tier):
    # What keeps a local hit a plain boundcache hit: shared= builds the same
    # C++ wrapper type, only the function it calls on a miss differs.
    f = twin(make_tier(), [])
    assert type(f) is boundcache.CachedFunction
    assert f.__wrapped__.__name__ == "render" and f.__name__ == "render"
    assert f.cache_parameters() == boundcache.lru_cache()(lambda path, size=64: 0).cache_parameters()


def test_maxsize_0_reads_redis_on_every_call(make_tier):
    calls = []
    tier = make_tier()
    f = twin(tier, calls, maxsize=0)
    for _ in range(3):
        f("a")
    assert calls == [("a", 64)]
    assert (tier.info().hits, tier.info().misses) == (2, 1)
    assert f.cache_info().currsize == 0


def test_a_tier_without_a_secret_refuses_signed_entries(make_tier):
    calls = []
    twin(make_tier(), calls)("a")  # signed pickle
    plain = make_tier(secret=None)
    assert twin(plain, calls)("a") == {"path": "a", "size": 64, "pixels": ("aa", 192)}
    assert len(calls) == 2 and plain.info().invalid == 1
