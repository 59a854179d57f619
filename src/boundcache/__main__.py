"""Command line: ``python -m boundcache {demo,check,audit} ...``."""

from __future__ import annotations

import sys

USAGE = """\
usage: python -m boundcache COMMAND [ARGS...]

commands:
  demo     the image-service scenario, functools beside boundcache
  check    find lru_cache/cache on methods in source code (--fix rewrites them)
  audit    run a script, then show which caches pin instances: audit [--] script.py [ARGS...]
  run      run a script with functools' memoizers served by boundcache: run [--audit] [--] script.py [ARGS...]
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "demo":
        from ._demo import main as demo_main

        return demo_main(rest)
    if command == "check":
        from .checker import main as check_main

        return check_main(rest)
    if command == "audit":
        from ._audit._cli import main as audit_main

        return audit_main(rest)
    if command == "run":
        from ._run import main as run_main

        return run_main(rest)
    print(f"boundcache: unknown command {command!r}\n{USAGE}", file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main())
