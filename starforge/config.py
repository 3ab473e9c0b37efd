"""One config mechanism for every stage: dataclasses are the schema, YAML files the presets,
`--set a.b=value` the override.

    cfg = load_config(TrainConfig, "configs/runs/demo.yaml", ["optim.lr=3e-4", "fim.rate=0.5"])
    save_config(cfg, out_dir / "config.yaml")

Unknown keys and values of the wrong type raise `ConfigError` naming the key (and the closest
valid key), so a typo never silently falls back to a default. Presets ship as package data
(`configs/` in the source tree, `starforge/configs/` in a wheel): `--config data/curate-stdlib`
finds one by name, and a preset's `command:` key names the command it
configures, so a preset given to another command is a one-line error.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import inspect
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from starforge.errors import ConfigError

C = TypeVar("C")


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """The two flags every stage command takes: a YAML file and repeated overrides."""
    parser.add_argument("--config", type=Path, default=None, help="YAML file with config values")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set optim.lr=3e-4 (repeatable; dotted keys for nested)",
    )


def load_config(cls: type[C], path: str | Path | None = None, overrides: typing.Sequence[str] = (),
                defaults: dict[str, Any] | None = None, *, flags: dict[str, Any] | None = None,
                flags_last: bool = False, command: str | None = None) -> C:
    """Build `cls` from (in increasing priority) `defaults`, the YAML file (a path or a preset
    name), `flags` (values of a command's own flags), then `--set` overrides; with `flags_last`
    the flags come after the overrides (eval's documented order). `command` ("data curate") is
    checked against the file's `command:` key."""
    data: dict[str, Any] = {}
    if defaults:
        _deep_update(data, defaults)
    where = "config"
    if path is not None:
        file = resolve_preset(path)
        where = str(file)
        loaded = read_yaml(file)
        declared = loaded.pop("command", None)
        if command is not None and declared is not None and not preset_matches(declared, command):
            names = " or ".join(f"`starforge {d}`" for d in (declared if isinstance(declared, list) else [declared]))
            raise ConfigError(f"{file}: this preset configures {names}, not `starforge {command}`; pass it to "
                              f"that command, or pass a preset made for `starforge {command}`")
        _deep_update(data, loaded)
    if flags and not flags_last:
        _deep_update(data, flags)
    apply_overrides(data, overrides)
    if flags and flags_last:
        _deep_update(data, flags)
    return from_dict(cls, data, where=where)


def preset_matches(declared: str | list[str], command: str) -> bool:
    """A preset's `command:` (one name or a list; a stage name covers its commands) covers `command`."""
    names = declared if isinstance(declared, list) else [declared]
    return any(command == str(n) or command.startswith(f"{n} ") for n in names)


def apply_overrides(data: dict[str, Any], overrides: typing.Sequence[str]) -> None:
    """`--set a.b=value` into `data` (values are YAML scalars)."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set optim.lr=3e-4")
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: '{part}' is not a section")
        node[parts[-1]] = parse_scalar(raw)


def preset_dir() -> Path:
    """Where the shipped presets are: `starforge/configs/` (package data in a wheel; in a source
    checkout a link to `configs/`), or `configs/` beside the packages if the link is missing."""
    shipped = Path(__file__).resolve().parent / "configs"
    return shipped if shipped.is_dir() else Path(__file__).resolve().parent.parent / "configs"


def resolve_preset(name: str | Path) -> Path:
    """A YAML path as given, or else a shipped preset by name: `data/curate-stdlib` (with or
    without `.yaml`) or `configs/data/curate-stdlib.yaml` as written in the docs."""
    path = Path(name)
    if path.exists():
        return path
    rel = Path(*path.parts[1:]) if path.parts and path.parts[0] == "configs" else path
    for candidate in (preset_dir() / rel, preset_dir() / rel.with_name(rel.name + ".yaml")):
        if candidate.is_file():
            return candidate
    return path


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        what = "is a folder, not a YAML file" if path.is_dir() else "config file not found"
        raise ConfigError(f"{path}: {what}; pass an existing YAML file (or a preset name) to --config")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path}{line}: not valid YAML ({problem})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text file (byte {exc.start} is not UTF-8); pass a YAML config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
    return loaded


def from_dict(cls: type[C], data: dict[str, Any], where: str = "config", prefix: str = "") -> C:
    """Recursively build dataclass `cls`, checking every key and coercing simple types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: '{prefix.rstrip('.') or cls.__name__}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; valid keys: {', '.join(names)}"
            raise ConfigError(f"{where}: unknown key '{prefix}{key}'{hint}")
        kwargs[key] = _coerce(hints[key], value, where, f"{prefix}{key}")
    try:
        obj = cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:  # a check not yet converted to ConfigError
        raise ConfigError(f"{where}: {exc}") from None
    return obj


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain dict (paths as strings) for YAML/JSON output."""
    def convert(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value
    return convert(cfg)


def save_config(cfg: Any, path: Path) -> None:
    """Write the resolved config beside a run's outputs, so the run can be inspected and redone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding="utf-8")


def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (the string literal under each field), for --help and docs; a
    class's own fields win over its bases', and `__field_docs__` (made classes) over both."""
    docs: dict[str, str] = {}
    for base in reversed(cls.__mro__[1:]):
        if dataclasses.is_dataclass(base):
            docs.update(field_docs(base))
    docs.update(_own_field_docs(cls))
    docs.update(cls.__dict__.get("__field_docs__", {}))
    return docs


def _own_field_docs(cls: type) -> dict[str, str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    docs: dict[str, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node, nxt in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def describe(cls: type, prefix: str = "") -> list[str]:
    """One line per (nested) field: `key = default  # doc`, for `--help-config`."""
    lines = []
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            lines.extend(describe(typ, f"{prefix}{f.name}."))
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "<required>")
        doc = docs.get(f.name, "")
        lines.append(f"{prefix}{f.name} = {default!r}" + (f"  # {doc}" if doc else ""))
    return lines


def _deep_update(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            _deep_update(dst[key], value)
        else:
            dst[key] = value


def parse_scalar(raw: str) -> Any:
    """`--set` values are YAML scalars: 3e-4, true, null, [1, 2], "text"."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


_parse_scalar = parse_scalar  # the name pretrain used before it was public


def _coerce(typ: Any, value: Any, where: str, key: str) -> Any:
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: '{key}' may not be null")
    if dataclasses.is_dataclass(typ):
        return from_dict(typ, value, where, f"{key}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            value = [value]
        inner = args[0] if args else Any
        items = [_coerce(inner, v, where, f"{key}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: '{key}' must be a mapping, got {value!r}")
        return dict(value)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: '{key}' must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if typ is Any:
        return value
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: '{key}' must be true or false, got {value!r}")
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: '{key}' must be an integer, got {value!r}")
    if typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: '{key}' must be a number, got {value!r}")
    if typ is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: '{key}' must be a string, got {value!r}")
        return str(value)
    if typ is Path:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{where}: '{key}' must be a path, got {value!r}")
        return Path(value)
    return value
