"""``boundcache check``: find memoizers keyed on ``self`` in source, and fix them.

One module per concern: ``names`` resolves what a name refers to, ``finding``
decides what is the trap, ``noqa`` reads suppression comments, ``fixing``
rewrites, ``config`` reads ``[tool.boundcache]``, ``files`` walks directories,
``output`` formats, ``cli`` ties them together, ``flake8_plugin`` serves
flake8.  Nothing here imports the C++ core.
"""

from __future__ import annotations

from .cli import main
from .finding import Finding, check_source
from .fixing import fix_source

__all__ = ["Finding", "check_source", "fix_source", "main"]
