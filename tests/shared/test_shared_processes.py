"""Several real processes on one Redis: one computation per cold key with
lock=True, a lease that outlives a killed computer, clears across processes."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import boundcache

# A module each child process imports: the same function, so the same namespace.
CHILD = textwrap.dedent(
    """
    import os, sys, threading, time
    import redis
    import boundcache

    url, threads, work = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    tier = boundcache.RedisTier(url, secret=b"test-secret-0123456789", lease=float(sys.argv[4]))
    counter = redis.Redis.from_url(url)

    @boundcache.lru_cache(shared=tier, name="tests.expensive", lock=True)
    def expensive(key):
        counter.incr("computations")   # counted in Redis, outside the cache's namespace
        time.sleep(work)
        return ("result", key, 42)

    barrier = threading.Barrier(threads)
    results = []

    def run():
        barrier.wait()
        results.append(expensive("cold"))

    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert results == [("result", "cold", 42)] * threads, results
    print("ok", len(results))
    """
)


def spawn(tmp_path, server, threads=1, work=0.3, lease=30.0):
    # Written once: rewriting it while an earlier child still reads it gave
    # that child an empty script (exit 0, no output).
    script = tmp_path / "child.py"
    if not script.exists():
        script.write_text(CHILD)
    return subprocess.Popen(
        [sys.executable, str(script), server.url, str(threads), str(work), str(lease)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_n_processes_compute_one_cold_key_once(tmp_path, server):
    procs = [spawn(tmp_path, server, threads=8) for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.split() == ["ok", "8"]
    assert int(server.client().get("computations")) == 1


def test_a_killed_computer_blocks_the_others_for_one_lease_only(tmp_path, server, make_tier):
    holder = spawn(tmp_path, server, work=60, lease=1.0)
    client = server.client()
    deadline = time.monotonic() + 30
    while not client.get("computations"):  # it holds the lease and computes
        assert holder.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    assert client.keys("*:lease:*")
    os.kill(holder.pid, signal.SIGKILL)  # dies holding the lease
    holder.wait()
    tier = make_tier(lease=1.0)
    import redis

    counter = redis.Redis.from_url(server.url)
    start = time.monotonic()
    assert expensive_in_child_namespace(tier, counter)("cold") == ("result", "cold", 42)
    assert time.monotonic() - start < 10  # waited for the lease to expire, not for the dead computation
    assert int(client.get("computations")) == 2


def expensive_in_child_namespace(tier, counter):
    # The child script's function is named tests.expensive: so is ours.
    code = compile(
        "def expensive(key):\n    counter.incr('computations')\n    return ('result', key, 42)\n", "<child>", "exec"
    )
    ns = {"counter": counter, "__name__": "__main__"}
    exec(code, ns)
    return boundcache.lru_cache(shared=tier, name="tests.expensive", lock=True)(ns["expensive"])


def test_clear_reaches_another_process(tmp_path, server, make_tier):
    script = tmp_path / "listener.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time
            import boundcache
            tier = boundcache.RedisTier(sys.argv[1], secret=b"test-secret-0123456789")
            calls = []

            @boundcache.lru_cache(shared=tier, name="tests.value")
            def value(x):
                calls.append(x)
                return x

            value(1)
            print("ready", flush=True)
            deadline = time.monotonic() + 20
            while value.cache_info().currsize and time.monotonic() < deadline:
                time.sleep(0.001)
            print("cleared" if not value.cache_info().currsize else "not cleared", flush=True)
            """
        )
    )
    child = subprocess.Popen([sys.executable, str(script), server.url], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        code = compile("def value(x):\n    return x\n", "<child>", "exec")
        ns = {"__name__": "__main__"}
        exec(code, ns)
        value = boundcache.lru_cache(shared=make_tier(), name="tests.value")(ns["value"])
        value.cache_clear()
        assert child.stdout.readline().strip() == "cleared"
    finally:
        child.kill()
        child.wait()


def test_a_forked_child_listens_for_clears_itself(make_tier, wait_until):
    # gunicorn without preload-then-call is the common case; with calls before
    # the fork, the child inherits entries and must get its own listener.
    import warnings

    tier = make_tier()
    calls = []

    @boundcache.lru_cache(shared=tier, name="tests.value")
    def value(x):
        calls.append(x)
        return x

    value(1)
    assert tier._subscribed.is_set()
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads running
        pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            # Subscribing again clears what the child inherited (a clear
            # published between the fork and the subscription would be lost).
            if wait_until(lambda: tier._subscribed.is_set() and value.cache_info().currsize == 0):
                value(1)  # from Redis this time
                os.write(write, b"s")
                code = 0 if wait_until(lambda: value.cache_info().currsize == 0, 20) else 2
        finally:
            os._exit(code)
    os.close(write)
    assert os.read(read, 1) == b"s"  # the child subscribed on its own
    os.close(read)
    other = make_tier()
    code = compile("def value(x):\n    return x\n", "<same>", "exec")
    ns = {}
    exec(code, ns)
    boundcache.lru_cache(shared=other, name="tests.value")(ns["value"]).cache_clear()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
