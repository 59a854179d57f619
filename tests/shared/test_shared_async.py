"""async def functions share through redis.asyncio."""

import asyncio

import pytest
import redis.asyncio

import boundcache


def atwin(tier, calls, **options):
    @boundcache.lru_cache(shared=tier, name="tests.fetch", **options)
    async def fetch(url):
        calls.append(url)
        await asyncio.sleep(0.01)
        return {"url": url, "body": url.encode() * 2}

    return fetch


def test_async_results_are_shared(make_tier, server):
    calls_a, calls_b = [], []
    a, b = atwin(make_tier(), calls_a), atwin(make_tier(), calls_b)

    async def main():
        first = await asyncio.gather(*(a("u") for _ in range(5)))  # one computation in this process
        second = await b("u")
        return first, second

    first, second = asyncio.run(main())
    assert first == [{"url": "u", "body": b"uu"}] * 5 and second == first[0]
    assert calls_a == ["u"] and calls_b == []
    # another event loop later: the tier makes a client for it
    assert asyncio.run(b("u")) == second
    b.cache_clear()
    assert server.client().keys("*:v:*") == []


def test_async_lock_across_processes(make_tier, server):
    calls = []
    twins = [atwin(make_tier(), calls, lock=True) for _ in range(4)]  # four "processes"

    async def main():
        return await asyncio.gather(*(t("cold") for t in twins))

    assert asyncio.run(main()) == [{"url": "cold", "body": b"coldcold"}] * 4
    assert calls == ["cold"]


def test_async_with_a_given_asyncio_client(server):
    client = redis.asyncio.Redis(port=server.port, socket_timeout=1, socket_connect_timeout=1)
    tier = boundcache.RedisTier(client=client, secret=b"test-secret-0123456789")
    calls = []
    try:
        f = atwin(tier, calls)

        async def main():
            return await f("x")

        assert asyncio.run(main()) == {"url": "x", "body": b"xx"}
        assert len(server.client().keys("*:v:*")) == 1
        f.cache_clear()  # a sync clear, through a sync client made from the asyncio client's settings
        assert server.client().keys("*:v:*") == []
    finally:
        tier.close()


def test_async_method_with_key(make_tier):
    tier = make_tier()
    calls = []

    class Api:
        @boundcache.lru_cache(shared=tier, name="tests.get", key=lambda self, url: url)
        async def get(self, url):
            calls.append(url)
            return url.upper()

    async def main():
        return [await Api().get("a"), await Api().get("a")]

    assert asyncio.run(main()) == ["A", "A"]
    assert calls == ["a"]
    Api().get.cache_clear()
    assert Api.get.cache_info().currsize == 0

    with pytest.raises(TypeError, match="cannot be shared"):

        class PerInstance:
            @boundcache.lru_cache(shared=tier, name="tests.get")
            async def get(self, url):
                return url
