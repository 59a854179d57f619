#!/usr/bin/env python3
"""Run the running CPython's own functools tests against boundcache.

    python tests/oracle/run_cpython_functools.py [-v] [-k SUBSTRING] [--timeout S]

The LRU, cache and cached_property tests of ``Lib/test/test_functools.py``
(see oracle_cases.py) run in a worker subprocess, one test at a time, each
reported to this process before and after it runs: a test that kills the
worker (a crash, or a hang past --timeout) is reported as CRASHED and a new
worker goes on with the next test. Prints the counts and exits 1 on any
failure, error or crash not listed in expected_failures.txt, and on any listed
test that passes (the list must stay exact), 0 otherwise, 2 when this CPython
has no test suite (Debian: install libpython3.X-testsuite).
"""

from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED_FILE = os.path.join(HERE, "expected_failures.txt")
VERSION = "%d.%d" % sys.version_info[:2]


# ---- worker: runs the ids given on stdin, one per line ----

class _Result(unittest.TestResult):
    def __init__(self) -> None:
        super().__init__()
        self.outcome = "PASS"
        self.detail = ""

    def _bad(self, outcome: str, err) -> None:
        self.outcome = outcome
        self.detail = "".join(traceback.format_exception(*err))

    def addFailure(self, test, err):  # noqa: N802
        self._bad("FAIL", err)

    def addError(self, test, err):  # noqa: N802
        self._bad("ERROR", err)

    def addSkip(self, test, reason):  # noqa: N802
        self.outcome, self.detail = "SKIP", reason

    def addExpectedFailure(self, test, err):  # noqa: N802
        self.outcome = "PASS"  # CPython's own @expectedFailure: not ours to judge

    def addUnexpectedSuccess(self, test):  # noqa: N802
        self.outcome = "PASS"


def worker() -> int:
    import faulthandler
    faulthandler.enable()  # a crash's Python traceback goes to stderr, which the parent reports
    sys.path.insert(0, HERE)
    out = sys.stdout
    sys.stdout = sys.stderr  # tests that print must not corrupt the protocol
    import oracle_cases
    loader = unittest.TestLoader()
    for line in sys.stdin:
        test_id = line.strip()
        if not test_id:
            continue
        out.write(f"START {test_id}\n")
        out.flush()
        result = _Result()
        try:
            loader.loadTestsFromName(test_id, oracle_cases).run(result)
        except BaseException as exc:  # noqa: BLE001 - reported, not fatal
            result._bad("ERROR", (type(exc), exc, exc.__traceback__))
        detail = result.detail.replace("\\", "\\\\").replace("\n", "\\n")
        out.write(f"END {test_id} {result.outcome} {detail}\n")
        out.flush()
    return 0


# ---- parent ----

def load_expected() -> dict[str, str]:
    """Test id -> reason, for the lines of expected_failures.txt that apply to this version."""
    expected: dict[str, str] = {}
    with open(EXPECTED_FILE, encoding="utf-8") as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip() if raw.lstrip().startswith("#") else raw.strip()
            if not line:
                continue
            # "<test id> [versions]: reason"; versions like 3.11,3.12 (default: all)
            head, _, reason = line.partition(":")
            parts = head.split()
            test_id = parts[0]
            versions = parts[1].split(",") if len(parts) > 1 else None
            if not reason.strip():
                raise SystemExit(f"{EXPECTED_FILE}: {test_id} has no reason")
            if versions is None or VERSION in versions:
                expected[test_id] = reason.strip()
    return expected


def list_ids() -> list[str]:
    code = ("import sys; sys.path.insert(0, %r); import oracle_cases; print('\\n'.join(oracle_cases.test_ids()))"
            % HERE)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        if "No module named 'test.test_functools'" in proc.stderr or "No module named 'test.support'" in proc.stderr:
            print(f"CPython {VERSION}: no test suite (Debian: apt-get install libpython{VERSION}-testsuite)")
            raise SystemExit(2)
        raise SystemExit(1)
    return proc.stdout.split()


def run_all(ids: list[str], timeout: float) -> dict[str, tuple[str, str]]:
    results: dict[str, tuple[str, str]] = {}
    pending = list(ids)
    while pending:
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=HERE)
        lines: queue.Queue[str | None] = queue.Queue()

        def pump(stream, sink) -> None:
            for line in stream:
                sink(line)
            if stream is proc.stdout:
                lines.put(None)

        stderr_tail: list[str] = []
        threading.Thread(target=pump, args=(proc.stdout, lines.put), daemon=True).start()
        threading.Thread(target=pump, args=(proc.stderr, lambda s: stderr_tail.append(s) or
                                            (len(stderr_tail) > 40 and stderr_tail.pop(0))),
                         daemon=True).start()
        proc.stdin.write("".join(i + "\n" for i in pending))
        proc.stdin.close()
        current = None
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                proc.kill()
                proc.wait()
                results[current or pending[0]] = ("CRASHED", f"no answer within {timeout:.0f} s (killed)")
                break
            if line is None:  # worker gone
                rc = proc.wait()
                if current is not None:
                    why = f"worker died with {'signal %d' % -rc if rc < 0 else 'exit %d' % rc}"
                    results[current] = ("CRASHED", why + "\n" + "".join(stderr_tail[-20:]))
                break
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "START":
                current = rest
            elif kind == "END":
                test_id, outcome, detail = (rest.split(" ", 2) + [""])[:3]
                detail = detail.replace("\\n", "\n").replace("\\\\", "\\")
                results[test_id] = (outcome, detail)
                current = None
        pending = [i for i in pending if i not in results]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per test")
    parser.add_argument("-k", dest="substring", help="only test ids containing SUBSTRING")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one test may take (default 120)")
    args = parser.parse_args()
    if args.worker:
        return worker()

    t0 = time.monotonic()
    expected = load_expected()
    ids = list_ids()
    if args.substring:
        ids = [i for i in ids if args.substring in i]
    results = run_all(ids, args.timeout)

    counts = {"PASS": 0, "FAIL": 0, "ERROR": 0, "SKIP": 0, "CRASHED": 0}
    bad, expected_seen = [], []
    for test_id in ids:
        outcome, detail = results[test_id]
        counts[outcome] += 1
        if args.verbose:
            print(f"{outcome:8} {test_id}")
        if outcome in ("FAIL", "ERROR") and test_id in expected:
            expected_seen.append(test_id)
        elif outcome in ("FAIL", "ERROR", "CRASHED"):
            bad.append((test_id, outcome, detail))
        elif test_id in expected:
            bad.append((test_id, "UNEXPECTED PASS",
                        f"listed in expected_failures.txt ({expected[test_id]}) but {outcome}: remove the line"))
    for test_id, outcome, detail in bad:
        print(f"--- {outcome}: {test_id}\n{detail.rstrip()}\n")
    for test_id in expected_seen:
        print(f"expected failure: {test_id}: {expected[test_id]}")
    print(f"ORACLE CPython {sys.version.split()[0]}: {len(ids)} tests, {counts['PASS']} passed, "
          f"{counts['FAIL'] + counts['ERROR']} failed ({len(expected_seen)} expected), "
          f"{counts['CRASHED']} crashed, {counts['SKIP']} skipped; "
          f"{'OK' if not bad else 'NOT OK: %d unexpected' % len(bad)} ({time.monotonic() - t0:.1f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
