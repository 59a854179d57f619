"""``python -m boundcache audit [OPTIONS] [--] script.py [ARGS...]``.

Runs the script as ``__main__`` (as ``python script.py ARGS...`` would) and,
when it ends (normally, by ``sys.exit`` or by an uncaught exception), prints
the audit of the process. The script's module stays alive for the audit, as
it would until interpreter shutdown, so its globals count as live references.
"""

from __future__ import annotations

import argparse
import builtins
import os
import sys
import traceback
import types

from ._report import parse_bytes

DESCRIPTION = "Run a Python script, then print which caches pin instances (boundcache.audit())."


def _parser(prog: str = "python -m boundcache audit", description: str = DESCRIPTION) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    add_report_options(p)
    p.add_argument("script", help="the Python script to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    return p


def add_report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--min-bytes",
        type=_size,
        default=0,
        metavar="SIZE",
        help="only caches whose pinned instances keep at least SIZE (4096, 64K, 10MiB)",
    )
    p.add_argument("--no-stdlib", action="store_true", help="leave out caches of standard-library functions")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of standard output")


def _size(text: str) -> int:
    try:
        return parse_bytes(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv: list[str]) -> int:
    ns = parse_command_line(_parser(), argv)
    if not can_run(ns.script, "boundcache audit", "run the script on CPython to audit it"):
        return 2
    module, status = run_script(ns.script, ns.args)
    print_report(ns)
    del module
    return status


def can_run(script: str, prog: str, advice: str) -> bool:
    """Whether the script exists and this interpreter can audit it; if not,
    says why on stderr, before anything runs."""
    from . import unavailable

    if not os.path.isfile(script):
        print(f"{prog}: cannot open {script!r}", file=sys.stderr)
        return False
    why = unavailable()
    if why:
        print(f"{prog}: {why} ({advice})", file=sys.stderr)
        return False
    return True


def parse_command_line(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Our options, then the script and its arguments (everything after the
    script, or after "--", belongs to the script)."""
    argv = list(argv)
    if "--" in argv:
        split = argv.index("--")
        ours, theirs = argv[:split], argv[split + 1 :]
        if not theirs:
            parser.error("no script given after --")
        ns = parser.parse_args([*ours, theirs[0]])
        ns.args = theirs[1:]
        return ns
    return parser.parse_args(argv)


def print_report(ns: argparse.Namespace) -> None:
    """The audit of this process, as the report options in `ns` ask."""
    from . import audit

    report = audit(min_bytes=ns.min_bytes, include_stdlib=not ns.no_stdlib)
    text = str(report)
    if ns.output:
        with open(ns.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.flush()
        sys.stdout.write(text)
        sys.stdout.flush()


def run_script(path: str, args: list[str]) -> tuple[types.ModuleType, int]:
    """Runs `path` as ``__main__``; returns its module (kept alive for the
    audit) and the exit status ``python path`` would have had."""
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, path, "exec")
    main = types.ModuleType("__main__")
    main.__dict__.update({"__file__": path, "__builtins__": builtins, "__cached__": None})
    saved = sys.argv, sys.path[0] if sys.path else None, sys.modules.get("__main__")
    sys.argv = [path, *args]
    if sys.path:
        sys.path[0] = os.path.dirname(os.path.abspath(path))
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
        status = 0
    except SystemExit as e:
        status = _exit_status(e.code)
    except BaseException as e:  # printed as the interpreter would, then the audit
        traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        status = 1
    finally:
        sys.argv = saved[0]
        if sys.path and saved[1] is not None:
            sys.path[0] = saved[1]
        if saved[2] is not None:
            sys.modules["__main__"] = saved[2]
    return main, status


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
