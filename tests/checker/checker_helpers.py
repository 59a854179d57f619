"""Helpers for the checker tests: the corpus and its `# expect` markers."""

from __future__ import annotations

import re
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.py"))

_EXPECT = re.compile(r"#.*\bexpect: (BC\d{3})")
_SKIP = re.compile(r"#.*\bskip: ")


def marked_lines(path: Path, pattern: re.Pattern = _EXPECT) -> set[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {number for number, line in enumerate(lines, 1) if pattern.search(line)}


def expected_lines(path: Path) -> set[int]:
    return marked_lines(path, _EXPECT)


def skip_lines(path: Path) -> set[int]:
    return marked_lines(path, _SKIP)


def has_make(path: Path) -> bool:
    return "\ndef make():" in path.read_text(encoding="utf-8")
