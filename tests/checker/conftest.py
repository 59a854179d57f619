"""The `run` fixture: `boundcache check` in-process."""

from __future__ import annotations

import pytest

from boundcache.checker import main


@pytest.fixture
def run(capsys):
    """Run `boundcache check ARGS` in-process: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
