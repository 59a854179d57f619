"""Per-test outcomes from pytest's JUnit XML, and the differences between two runs."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def outcomes(path: str) -> dict[str, tuple[str, str]]:
    """test id -> (outcome, first line of its message): passed, failed, error, skipped."""
    return {test_id: (outcome, message) for test_id, (outcome, message, _) in _cases(path).items()}


def durations(path: str) -> dict[str, float]:
    """test id -> seconds, as pytest reports them (call, setup and teardown)."""
    return {test_id: seconds for test_id, (_, _, seconds) in _cases(path).items()}


def _cases(path: str) -> dict[str, tuple[str, str, float]]:
    result: dict[str, tuple[str, str, float]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or child.text or "").strip().splitlines()[:1]
                message = message[0][:300] if message else ""
                break
        seconds = float(case.get("time") or 0)
        if test_id in result:
            # a teardown error is reported as a second case of the same id
            first = result[test_id]
            if first[0] != "passed" and outcome == "passed":
                outcome, message = first[0], first[1]
            seconds += first[2]
        result[test_id] = (outcome, message, seconds)
    return result


def slowest(plain: dict[str, float], patched: dict[str, float], n: int = 5) -> list[tuple[str, float, float]]:
    """The n tests that took longest more with the switch: (test id, plain s, patched s)."""
    common = plain.keys() & patched.keys()
    return sorted(((t, plain[t], patched[t]) for t in common), key=lambda x: x[1] - x[2])[:n]


def differences(plain: dict, patched: dict) -> list[tuple[str, str, str, str]]:
    """(test id, plain outcome, patched outcome, patched message) for every test whose
    outcome differs, or that ran in one run only."""
    out = []
    for test_id in sorted(plain.keys() | patched.keys()):
        a, b = plain.get(test_id, ("absent", "")), patched.get(test_id, ("absent", ""))
        if a[0] != b[0]:
            out.append((test_id, a[0], b[0], b[1] or a[1]))
    return out

