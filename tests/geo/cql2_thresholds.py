"""The cql2 parser in a child process: its crashes measured, not suffered.

The cql2 parser (Rust) overflows its native stack on long operator chains and deep nesting
and takes its whole process down with SIGSEGV. `IsolatedParser` parses in a child process,
so that a crash is an answer (``crashed``) rather than the end of pytest. Run as a module,
this bisects the size of each shape in `SHAPES` until the bare parser crashes; that is how
the limits in geo/cql2/guards.py were set::

    uv run --frozen python -m tests.geo.cql2_thresholds              # 8 MiB thread stacks
    uv run --frozen python -m tests.geo.cql2_thresholds --stack 1    # 1 MiB
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# glibc gives each new thread the stack of `ulimit -s` (8 MiB here); uvicorn runs sync
# routes on such threads.
DEFAULT_STACK_MIB = 8


def _chain(
    operator: str, atom: str = "1", head: str = "households = ", joint: str = " "
) -> Callable[[int], str]:
    return lambda n: head + f"{joint}{operator}{joint}".join([atom] * (n + 1))


def _json_not(n: int) -> str:
    text = '{"op": "isNull", "args": [{"property": "name"}]}'
    return '{"op": "not", "args": [' * n + text + "]}" * n


def _json_plus(n: int) -> str:
    inner = '{"op": "+", "args": [1, ' * n + "1" + "]}" * n
    return '{"op": ">", "args": [{"property": "workers"}, ' + inner + "]}"


def _json_list(n: int) -> str:
    return '{"op": "in", "args": [{"property": "name"}, ' + "[" * n + '"a"' + "]" * n + "]}"


def _json_and(n: int) -> str:
    clause = '{"op": "=", "args": [{"property": "workers"}, 1]}'
    return '{"op": "and", "args": [' + ", ".join([clause] * (n + 1)) + "]}"


# name → (language, filter of size n): n operators of a chain, or n levels of nesting.
SHAPES: dict[str, tuple[str, Callable[[int], str]]] = {
    **{
        f"arithmetic {op}": ("cql2-text", _chain(op))
        for op in ("*", "/", "+", "-", "%", "^", "div")
    },
    "comparison chain =": ("cql2-text", _chain("=", head="")),
    "comparison chain <": ("cql2-text", _chain("<", head="")),
    "LIKE chain": ("cql2-text", _chain("LIKE", "'a'", head="", joint="")),
    "AND chain": ("cql2-text", _chain("AND", "workers = 1", head="")),
    "OR chain": ("cql2-text", _chain("OR", "workers = 1", head="")),
    "function calls added": ("cql2-text", _chain("+", "f(1)")),
    "NOT chain": ("cql2-text", lambda n: "NOT " * n + "workers = 1"),
    "minus chain": ("cql2-text", lambda n: "households = " + "- " * n + "households"),
    "nested parentheses": ("cql2-text", lambda n: "(" * n + "workers = 1" + ")" * n),
    "nested functions": ("cql2-text", lambda n: "households = " + "f(" * n + "1" + ")" * n),
    "nested lists": (
        "cql2-text",
        lambda n: "A_CONTAINS(crafts, " + "('a'," * n + "'a'" + ")" * n + ")",
    ),
    "nested GEOMETRYCOLLECTION": (
        "cql2-text",
        lambda n: (
            "S_INTERSECTS(geometry, " + "GEOMETRYCOLLECTION(" * n + "POINT(1 1)" + ")" * n + ")"
        ),
    ),
    "IN list": ("cql2-text", lambda n: "workers IN (" + ", ".join(["1"] * n) + ")"),
    "function arguments": ("cql2-text", lambda n: "households = f(" + ", ".join(["1"] * n) + ")"),
    "WKT coordinates": (
        "cql2-text",
        lambda n: (
            "S_INTERSECTS(geometry, LINESTRING(" + ", ".join(f"{i} {i}" for i in range(n)) + "))"
        ),
    ),
    "cql2-json NOT nesting": ("cql2-json", _json_not),
    "cql2-json arithmetic nesting": ("cql2-json", _json_plus),
    "cql2-json list nesting": ("cql2-json", _json_list),
    "cql2-json AND arguments": ("cql2-json", _json_and),
}


@dataclass(frozen=True)
class Outcome:
    """What became of one filter in the child.

    ``kind`` is ``translated`` (guarded: parsed and turned into SQL), ``parsed`` (bare
    parser), ``refused`` (InvalidFilter, or the bare parser's error), ``error`` (any other
    exception: a bug), ``crashed`` (the child died) or ``timeout``.
    """

    kind: str
    detail: str = ""
    seconds: float = 0.0


class IsolatedParser:
    """A child process that parses filters one at a time and survives nothing.

    ``guarded`` runs craftmap's `parse_filter` and `filter_to_sql` (on the villages'
    queryables, compiled for PostgreSQL); otherwise the bare cql2 parser. After a crash
    or a timeout the next call starts a new child.
    """

    def __init__(
        self, *, guarded: bool = True, stack_mib: int = DEFAULT_STACK_MIB, timeout: float = 30
    ) -> None:
        self.guarded = guarded
        self.stack_mib = stack_mib
        self.timeout = timeout
        self.process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "tests.geo.cql2_thresholds", "--child"]
        command += ["--stack", str(self.stack_mib)] + ([] if self.guarded else ["--bare"])
        return subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )

    def __call__(self, text: str, lang: str = "cql2-text") -> Outcome:
        """Parse ``text`` in the child; a crash or a hang is an outcome too."""
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        started = time.monotonic()
        try:
            # ASCII JSON: lone surrogates travel as escapes.
            process.stdin.write(json.dumps({"text": text, "lang": lang}) + "\n")
            process.stdin.flush()
        except BrokenPipeError:
            return self._died(process)
        ready, _, _ = select.select([process.stdout], [], [], self.timeout)
        if not ready:
            process.kill()
            process.wait()
            self.process = None
            return Outcome("timeout", f"no answer in {self.timeout:g} s")
        line = process.stdout.readline()
        if not line:
            return self._died(process)
        answer = json.loads(line)
        return Outcome(answer["kind"], answer["detail"], time.monotonic() - started)

    def _died(self, process: subprocess.Popen[str]) -> Outcome:
        code = process.wait()
        self.process = None
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        return Outcome("crashed", how)

    def close(self) -> None:
        """Stop the child."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


# -- the child ----------------------------------------------------------------------------------
def _guarded() -> Callable[[str, str], tuple[str, str]]:
    from sqlalchemy.dialects import postgresql

    from geo.cql2 import filter_to_sql, parse_filter
    from geo.kernel.errors import InvalidFilter
    from geo.store.catalog import BY_ID

    queryables = BY_ID["villages"].queryables()
    dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]

    def run(text: str, lang: str) -> tuple[str, str]:
        try:
            condition = filter_to_sql(parse_filter(text, lang), queryables)
            condition.compile(dialect=dialect)
        except InvalidFilter as exc:
            return "refused", str(exc)[:500]
        except Exception as exc:
            return "error", "".join(traceback.format_exception_only(exc))[-2000:]
        return "translated", ""

    return run


def _bare() -> Callable[[str, str], tuple[str, str]]:
    import cql2

    def run(text: str, lang: str) -> tuple[str, str]:
        try:
            parse = cql2.parse_text if lang == "cql2-text" else cql2.parse_json
            parse(text).to_json()
        except Exception as exc:
            return "refused", f"{type(exc).__name__}: {str(exc)[:200]}"
        return "parsed", ""

    return run


def _child(guarded: bool, stack_mib: int) -> None:
    run = _guarded() if guarded else _bare()
    threading.stack_size(stack_mib * 2**20)
    with ThreadPoolExecutor(max_workers=1) as pool:
        for line in sys.stdin:
            request: dict[str, Any] = json.loads(line)
            kind, detail = pool.submit(run, request["text"], request["lang"]).result()
            sys.stdout.write(json.dumps({"kind": kind, "detail": detail}) + "\n")
            sys.stdout.flush()


# -- measuring ----------------------------------------------------------------------------------
def threshold(parser: IsolatedParser, shape: str, most: int = 100_000) -> tuple[int, int] | None:
    """(largest size that parsed, smallest that crashed) to within 1 %; None: no crash."""
    lang, build = SHAPES[shape]
    if parser(build(most), lang).kind != "crashed":
        return None
    good, bad = 1, most
    while bad - good > max(1, good // 100):
        middle = (good + bad) // 2
        if parser(build(middle), lang).kind == "crashed":
            bad = middle
        else:
            good = middle
    return good, bad


def main() -> None:
    """Print each shape's crash threshold for the bare parser."""
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--stack", type=int, default=DEFAULT_STACK_MIB, help="MiB per thread")
    options.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    options.add_argument("shapes", nargs="*", help="shapes to measure (default: all)")
    args = options.parse_args()
    if args.child:
        _child(not args.bare, args.stack)
        return
    parser = IsolatedParser(guarded=False, stack_mib=args.stack)
    print(f"cql2 parser, {args.stack} MiB thread stack: last size parsed → first crash")
    for shape in args.shapes or SHAPES:
        found = threshold(parser, shape)
        result = "no crash at 100 000" if found is None else f"{found[0]:>7} → {found[1]}"
        print(f"  {shape:32} {result}", flush=True)
    parser.close()


if __name__ == "__main__":
    main()
