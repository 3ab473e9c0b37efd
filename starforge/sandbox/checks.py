"""Splitting a Python test into the calls the sandbox computes and the checks the host decides.

A verdict computed in the process that ran the sample can be reached by that process (its
module globals, the objects it returns, gc, frames), so where the test allows it the sandbox
only computes the values of the calls to the function under test and returns them as plain
data; the comparisons, and the expected values they compare with, stay here. `split_test`
parses the test with `ast` (never executing it) and succeeds when every statement is one of:

- `assert E[, msg]`, where E is evaluable on the host once each call to the function under
  test is replaced by its value: literals, the builtins and `math` functions in `HOST_NAMES`,
  arithmetic, comparisons, subscripts, comprehensions over host values. `candidate(x) == y`,
  `abs(candidate(x) - y) < 1e-6`, `math.isclose(...)`, `assert candidate(x)`, `assert not ...`
  and `tuple(candidate(x)) == (...)` all are. A builtin conversion applied to a call alone
  (`tuple(candidate(x))`) is computed in the sandbox with it, as the harness computes it;
- `for v in <host value>:` over such statements (unrolled here), `v = <host value>`;
- `import ...` (run in the sandbox too: the calls' arguments may use the module), docstrings,
  `pass`, a bare builtin name (HumanEval/129's stray `print`);
- HumanEval's shape, `def check(candidate): ...` then `check(entry_point)`, whose body is made
  of the statements above.

The function under test is `check`'s parameter and the name passed to `check`, or, in a test
made of top-level asserts (MBPP's, RL problems'), the one name the asserts call that the host
does not know. Which calls run in the sandbox depends on the test alone, never on the sample.
A call's arguments are inputs written by the test's author; they are computed in the sandbox
(host values they use are written in as literals), and calls run in the harness's order, so a
stateful candidate sees what it would see there. Anything else (helper functions, random
inputs, `while`, `try`) keeps the in-process path (pool.py, runner.py).

(Over the usual size: one walker of the test's syntax tree, whose rules only make sense together.)
"""

from __future__ import annotations

import ast
import builtins
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from types import CodeType
from typing import Any

from starforge.sandbox.verdicts import CALL, HOST_MATH, HOST_NAMES, MATH_NAMES, host_eval, to_source

AST_LOCK = threading.RLock()
"""Held around every conversion between source, `ast` objects and code. CPython 3.11.7 keeps the
AST converter's recursion depth per interpreter, not per thread (CPython issue gh-106905), so two
pool threads parsing at once fail with "AST constructor recursion depth mismatch"."""


def parse_python(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """`ast.parse` under AST_LOCK, tried again when the conversion collided with another thread's
    (a thread of a library, torch.jit's say, that does not take our lock: gh-106905)."""
    for attempt in range(3):
        try:
            with AST_LOCK:
                return ast.parse(source, filename, mode)
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")

MAX_CALLS = 2000
"""Most calls (after unrolling loops) a split test may make; beyond, the in-process path."""
WRAPPERS = frozenset({"list", "tuple", "sorted", "set", "frozenset", "dict", "len", "str", "repr", "sum", "min",
                      "max", "any", "all", "bool", "abs", "int", "float", "round"})
"""Builtins computed in the sandbox together with a call they are applied to alone."""
_CONDITIONAL = (ast.BoolOp, ast.IfExp, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)
_HOST_NODES = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Store, ast.Tuple, ast.List, ast.Set, ast.Dict,
               ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.keyword, ast.Attribute,
               ast.Subscript, ast.Slice, ast.Starred, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
               ast.comprehension, ast.operator, ast.unaryop, ast.cmpop,
               ast.boolop, ast.expr_context)


class NotSplit(Exception):
    """The test has a statement or expression this module does not decide on the host."""


@dataclass(frozen=True)
class Check:
    """One assertion: `code` evaluates to the asserted value with the calls' values bound."""

    code: CodeType
    calls: tuple[int, ...]
    """Indices of the calls it reads (in `SplitTest.calls`); empty for `assert True`."""
    env: dict[str, Any]
    """Host values the expression reads (loop variables, the test's constants)."""
    message: CodeType | None = None


@dataclass(frozen=True)
class SplitTest:
    """A test as sandbox work (`preamble`, `setup`, `calls`) and host checks."""

    preamble: str
    """The test's top-level imports, run in the sandbox after the sample, in its namespace."""
    setup: str
    """Run with the calls' local namespace: `candidate = <entry point>` and `check`'s imports."""
    calls: tuple[str, ...]
    """Expressions the sandbox evaluates in order; their values come back as plain data."""
    checks: tuple[Check, ...] = field(default=())


@lru_cache(maxsize=8192)
def split_test(test: str) -> SplitTest | None:
    """The split of a test (the code after the sample), or None when it keeps the in-process path."""
    with AST_LOCK:
        return _split(test)


def _split(test: str) -> SplitTest | None:
    try:
        module = parse_python(test)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if any(isinstance(n, ast.Name) and n.id.startswith("__starforge_") for n in ast.walk(module)):
        return None
    try:
        return _Splitter(module).run()
    except (NotSplit, RecursionError):
        return None


class _Splitter:
    def __init__(self, module: ast.Module):
        self.module = module
        self.calls: list[str] = []
        self.checks: list[Check] = []
        self.preamble: list[str] = []
        self.setup: list[str] = []
        self.host_math = False
        self.entry: set[str] | None = None  # names of the function under test (None: not known yet)

    def run(self) -> SplitTest:
        body = self.module.body
        defs = {s.name: s for s in body if isinstance(s, ast.FunctionDef)}
        env: dict[str, Any] = {}
        if defs:  # HumanEval's shape: def check(candidate) ... check(entry_point)
            if set(defs) != {"check"} or not _is_check_call(body[-1]):
                raise NotSplit("helper functions")
            check = defs["check"]
            args = check.args
            if (len(args.args) != 1 or args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg
                    or check.decorator_list):
                raise NotSplit("check signature")
            param = args.args[0].arg
            target = body[-1].value.args[0]  # type: ignore[attr-defined]
            for stmt in body[:-1]:
                if stmt is not check:
                    self.statement(stmt, env, top=True)
            self.entry = {param} | ({target.id} if isinstance(target, ast.Name) else set())
            self.setup.append(f"{param} = {ast.unparse(target)}")
            self.body(check.body, dict(env), top=False)
        else:  # top-level asserts: the one name they call that the host does not know is under test
            bound = {n.id for n in ast.walk(self.module) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            bound |= {(a.asname or a.name).split(".")[0] for n in ast.walk(self.module)
                      if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
            unknown = {n.func.id for n in ast.walk(self.module) if isinstance(n, ast.Call)
                       and isinstance(n.func, ast.Name) and n.func.id not in HOST_NAMES and n.func.id not in bound}
            if len(unknown) != 1:  # with two, an expected value could be an argument of the other
                raise NotSplit(f"{len(unknown)} functions under test")
            self.entry = unknown
            self.body(body, env, top=True)
        return SplitTest("\n".join(self.preamble) + ("\n" if self.preamble else ""),
                         "\n".join(self.setup) + ("\n" if self.setup else ""), tuple(self.calls), tuple(self.checks))

    def body(self, stmts: list[ast.stmt], env: dict[str, Any], top: bool) -> None:
        for stmt in stmts:
            self.statement(stmt, env, top)

    def statement(self, stmt: ast.stmt, env: dict[str, Any], top: bool) -> None:
        if isinstance(stmt, ast.Assert):
            self.check(stmt.test, stmt.msg, env)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            if stmt.__class__ is ast.ImportFrom and (stmt.level or stmt.module == "__future__"):
                raise NotSplit("relative or future import")
            (self.preamble if top else self.setup).append(ast.unparse(stmt))
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                env.pop(bound, None)
                if isinstance(stmt, ast.Import) and alias.name == "math" and bound == "math":
                    self.host_math = True
                    env["math"] = HOST_MATH
        elif isinstance(stmt, ast.Assign):
            value = host_eval(self.host_code(stmt.value, env), env)
            for target in stmt.targets:
                _bind(target, value, env)
        elif isinstance(stmt, ast.For):
            if stmt.orelse or stmt.type_comment:
                raise NotSplit("for-else")
            values = host_eval(self.host_code(stmt.iter, env), env)
            try:
                items = list(values) if len(values) <= MAX_CALLS else None
            except TypeError:
                items = None
            if items is None:
                raise NotSplit("loop over a non-sequence")
            for item in items:
                inner = dict(env)
                _bind(stmt.target, item, inner)
                self.body(stmt.body, inner, top)
                if len(self.calls) > MAX_CALLS:
                    raise NotSplit("too many calls")
        elif isinstance(stmt, ast.Expr):
            value = stmt.value
            if isinstance(value, ast.Constant) or (isinstance(value, ast.Name) and hasattr(builtins, value.id)
                                                   and value.id not in env):
                return  # a docstring, HumanEval/129's bare `print`
            # a bare call: it must not raise; `(value, True)[1]` reads the call and asserts nothing
            self.check(ast.Subscript(ast.Tuple([value, ast.Constant(True)], ast.Load()), ast.Constant(1), ast.Load()),
                       None, env)
        elif isinstance(stmt, ast.Pass):
            return
        else:
            raise NotSplit(type(stmt).__name__)

    def check(self, test: ast.expr, msg: ast.expr | None, env: dict[str, Any]) -> None:
        first = len(self.calls)
        expr = _Host(self, env).visit(ast.fix_missing_locations(ast.Expression(_copy(test))))
        used = tuple(range(first, len(self.calls)))
        try:
            message = self.host_code(msg, env) if msg is not None else None
        except NotSplit:  # e.g. HumanEval/77's "..." + str(candidate(1)), computed only on failure:
            message = None  # the verdict is the same, its text is "failed: " alone
        names = _free_names(expr) | (_free_names(msg) if msg is not None else set())
        self.checks.append(Check(_compile(expr), used, {k: v for k, v in env.items() if k in names}, message))

    def host_code(self, node: ast.expr, env: dict[str, Any]) -> CodeType:
        """An expression with no call to the function under test (an expected value, a loop range)."""
        first = len(self.calls)
        expr = _Host(self, env).visit(ast.fix_missing_locations(ast.Expression(_copy(node))))
        if len(self.calls) != first:
            del self.calls[first:]
            raise NotSplit("a call to the function under test outside an assert")
        return _compile(expr)

    def sandbox_call(self, node: ast.Call, env: dict[str, Any]) -> ast.Name:
        """Record `node` as a call the sandbox computes; host values in its arguments become literals."""
        try:
            source = ast.unparse(_Literals(env).visit(_copy(node)))
        except ValueError as exc:  # a host value with no literal form
            raise NotSplit(str(exc)) from None
        self.calls.append(source)
        return ast.Name(CALL.format(len(self.calls) - 1), ast.Load())


class _Host(ast.NodeTransformer):
    """Checks an expression is host-evaluable and swaps calls to the function under test for names."""

    def __init__(self, splitter: _Splitter, env: dict[str, Any]):
        self.s = splitter
        self.env = env
        self.local: set[str] = set()  # comprehension variables
        self.conditional = 0

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if not isinstance(node, _HOST_NODES):
            raise NotSplit(type(node).__name__)
        if isinstance(node, _CONDITIONAL):  # evaluated lazily: no call may sit inside
            self.conditional += 1
            try:
                return super().generic_visit(node)
            finally:
                self.conditional -= 1
        if isinstance(node, ast.Compare) and len(node.comparators) > 1:
            node.left = self.visit(node.left)
            node.comparators[0] = self.visit(node.comparators[0])
            self.conditional += 1
            try:
                node.comparators[1:] = [self.visit(c) for c in node.comparators[1:]]
            finally:
                self.conditional -= 1
            return node
        return super().generic_visit(node)

    def _comprehension(self, node: ast.AST) -> ast.AST:
        for gen in node.generators:  # type: ignore[attr-defined]  # bound before the element reads them
            self.local.update(n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name))
        return self.generic_visit(node)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.env or node.id in self.local or (node.id in HOST_NAMES and node.id not in self._entry()):
            return node
        raise NotSplit(f"name {node.id!r} is not a host value")

    def visit_Attribute(self, node: ast.Attribute) -> ast.Attribute:
        if (isinstance(node.value, ast.Name) and node.value.id == "math" and self.env.get("math") is HOST_MATH
                and node.attr in MATH_NAMES):
            return node
        raise NotSplit(f"attribute {node.attr!r}")

    def visit_Call(self, node: ast.Call) -> ast.expr:
        func = node.func
        if isinstance(func, ast.Name) and func.id not in self.env and func.id not in self.local:
            name = func.id
            if self._is_entry(name):
                if self.conditional:
                    raise NotSplit("a call evaluated conditionally")
                return self.s.sandbox_call(node, self.env)
            if name in HOST_NAMES:
                before = len(self.s.calls)
                new = self.generic_visit(node)
                made = list(range(before, len(self.s.calls)))
                if (name in WRAPPERS and made and len(made) == len(node.args) and not node.keywords
                        and all(isinstance(a, ast.Name) and a.id == CALL.format(i) for a, i in zip(node.args, made))):
                    inner = self.s.calls[before:]
                    del self.s.calls[before:]
                    self.s.calls.append(f"{name}({', '.join(inner)})")
                    return ast.Name(CALL.format(before), ast.Load())
                return new  # type: ignore[return-value]
            raise NotSplit(f"call of {name!r}")
        if isinstance(func, ast.Attribute):
            return self.generic_visit(node)  # type: ignore[return-value]  # math.isclose(...)
        raise NotSplit("call of an expression")

    def _entry(self) -> set[str]:
        return self.s.entry or set()

    def _is_entry(self, name: str) -> bool:
        return self.s.entry is not None and name in self.s.entry


class _Literals(ast.NodeTransformer):
    """Host values in a call's arguments written in as literals (the sandbox never sees the env)."""

    def __init__(self, env: dict[str, Any]):
        self.env = env

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.env and isinstance(node.ctx, ast.Load):
            value = self.env[node.id]
            if value is HOST_MATH:
                return node  # the sandbox imported math too (the preamble)
            return parse_python(to_source(value), mode="eval").body
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.NamedExpr)):
            if any(isinstance(n, ast.Name) and n.id in self.env for n in ast.walk(node)):
                raise NotSplit("a host value inside a nested scope of a call's arguments")
        return super().generic_visit(node)


def _is_check_call(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Name)
            and stmt.value.func.id == "check" and len(stmt.value.args) == 1 and not stmt.value.keywords)


def _bind(target: ast.expr, value: Any, env: dict[str, Any]) -> None:
    if isinstance(target, ast.Name):
        env[target.id] = value
        return
    if isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts):
        try:
            values = list(value)
        except TypeError:
            raise NotSplit("unpacking a non-sequence") from None
        if len(values) != len(target.elts):
            raise NotSplit("unpacking length")
        for element, item in zip(target.elts, values):
            env[element.id] = item  # type: ignore[attr-defined]
        return
    raise NotSplit("assignment target")


def _copy(node: ast.AST) -> ast.AST:
    return parse_python(ast.unparse(node), mode="eval").body if isinstance(node, ast.expr) else node


def _free_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _compile(expr: ast.AST) -> CodeType:
    tree = _Guards().visit(expr)
    return compile(ast.fix_missing_locations(tree), "<check>", "eval")


class _Guards(ast.NodeTransformer):
    """`*`, `**` and `<<` through functions that refuse results too large for the host's memory."""

    _OPS = {ast.Mult: "__starforge_mul__", ast.Pow: "__starforge_pow__", ast.LShift: "__starforge_lshift__"}

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        guard = self._OPS.get(type(node.op))
        if guard is None:
            return node
        return ast.copy_location(ast.Call(ast.Name(guard, ast.Load()), [node.left, node.right], []), node)

