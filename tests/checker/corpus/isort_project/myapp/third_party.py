"""boundcache sorts between the project's third-party imports."""

from __future__ import annotations

import functools
import json

import annotated_types
import pytest
from hypothesis import strategies


class Report:
    def __init__(self, data):
        self.data = data

    @functools.cache  # expect: BC001 fix
    def text(self):
        return [json.dumps(self.data)]

    @functools.lru_cache(maxsize=8)  # expect: BC001 fix
    def marks(self):
        return [annotated_types.Gt(0), pytest.mark.skip, strategies.just(1)]


def cached_calls():
    report = Report({"a": 1})
    return [report.text, report.marks]
