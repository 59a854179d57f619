"""``python -m boundcache run [--audit] [OPTIONS] [--] script.py [ARGS...]``.

Runs the script as ``__main__`` with functools' memoizers served by
boundcache (``boundcache.patch()``, docs/patch.md), as ``BOUNDCACHE_PATCH=1
python script.py ARGS...`` would; the variable is set for the processes the
script starts. With ``--audit``, prints ``boundcache.audit()`` when the script
ends. The exit status is the script's.
"""

from __future__ import annotations

import os
import sys

from ._patch import ENV_SWITCH, patch

DESCRIPTION = (
    "Run a Python script with functools.lru_cache, cache and cached_property served by boundcache "
    "(BOUNDCACHE_PATCH=1); with --audit, print which caches pin instances when it ends."
)


def main(argv: list[str]) -> int:
    # The switch comes before anything else is imported (the option parser
    # included), so that the script's imports are all served alike.
    os.environ[ENV_SWITCH] = "1"  # inherited by the processes the script starts
    patch()
    from ._audit._cli import _parser, can_run, parse_command_line, print_report, run_script

    parser = _parser("python -m boundcache run", DESCRIPTION)
    parser.add_argument("--audit", action="store_true", help="print boundcache.audit() when the script ends")
    ns = parse_command_line(parser, argv)
    if not os.path.isfile(ns.script):
        print(f"boundcache run: cannot open {ns.script!r}", file=sys.stderr)
        return 2
    if ns.audit and not can_run(ns.script, "boundcache run", "drop --audit to run the script patched"):
        return 2
    module, status = run_script(ns.script, ns.args)
    if ns.audit:
        print_report(ns)
    del module
    return status
