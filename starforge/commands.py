"""The one CLI builder: a `Command` names its config dataclass and its run function; the flags
come from the dataclass.

    COMMANDS = [Command("curate", "data_pipeline.curate:CurateConfig", "data_pipeline.curate:curate",
                        "StarCoder's curation chain", inputs=("input",), outputs=("output",))]
    def main(argv): return run_commands("starforge data", COMMANDS, argv)

Every top-level field that is not a section (a nested dataclass) or a mapping gets a flag,
spelled `--vocab-size` and `--vocab_size` (eval keeps the harness's underscores first); a bool
field defaulting to false is a switch, one defaulting to true takes an optional value
(`--do_sample false`), as HfArgumentParser does; help is the field's docstring. Paths are fields
like any other (positional ones are named in `positional`). Every command also takes `--config
FILE|PRESET`, repeated `--set key=value` (dotted keys reach sections) and `--help-config`; one
that writes declares its outputs and takes `--overwrite` (the output rule, `starforge/run_dir.py`).
Priority: defaults < --config < flags < --set (`flags_last=True`: defaults < --config < --set <
flags, eval's documented order). Config classes and run functions may be given as
"module:name" strings, imported only when that command runs, so `starforge data --help` does
not import datatrove.

(Over 300 lines: the builder and the small type helpers that turn a field into a flag and a
flag's text back into a config value are one concern, read together.)
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starforge import run_dir
from starforge.config import add_config_args, describe, field_docs, load_config
from starforge.errors import ConfigError


@dataclass
class Command:
    name: str
    """Sub-command name (`curate`); empty for a stage that is one command (`starforge eval`)."""
    config: Any
    """The config dataclass, "module:Class", or a function of no arguments returning the class."""
    run: Any
    """`run(cfg)` (or "module:function"): returns an exit code, or None for 0."""
    help: str
    """One line for the stage's command list and the command's --help."""
    positional: tuple[str, ...] = ()
    """Fields given as positional arguments, in order (a list field takes one or more)."""
    required: tuple[str, ...] = ()
    """Fields that must be set (by a flag, the config file or --set)."""
    inputs: tuple[str, ...] = ()
    """Fields naming files or folders the command reads (no output may touch them)."""
    outputs: tuple[str, ...] = ()
    """Fields naming folders the command writes (the output rule: run_dir.claim_outputs)."""
    output_files: tuple[str, ...] = ()
    """Fields naming single files the command writes (never an input, never inside one)."""
    flags_last: bool = False
    """Flags beat --set (eval's documented order) instead of the other way round."""
    no_flag: tuple[str, ...] = ()
    """Fields without a flag of their own (still in the config file and --set)."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Extra flag names for fields: {"from": "init_from"} makes `--from` set init_from."""
    description: str = ""
    """Longer text for the command's --help (default: `help`)."""
    extras: tuple[tuple[str, Any, Any, str], ...] = ()
    """Flags that are not config (name, type, default, doc), passed to run as keywords:
    `--resume` continues a run, it does not describe one."""
    load: Any = None
    """`load(path, overrides, flags=, command=)` (or "module:function") instead of load_config,
    for a config with its own defaults (pretrain's model presets)."""
    pass_source: bool = False
    """Also pass run `config_path=` and `overrides=` (flags as `key=value` first), for a command
    that writes another command line (pretrain launch's sbatch script)."""

    def config_class(self) -> type:
        return _resolve(self.config) if isinstance(self.config, str) else (
            self.config if isinstance(self.config, type) else self.config())

    def run_function(self) -> Callable[[Any], Any]:
        return _resolve(self.run) if isinstance(self.run, str) else self.run


def extend(base: type, name: str, fields: Sequence[tuple[str, Any, Any, str]]) -> type:
    """`base` with extra fields (name, type, default, doc): a command's paths added to a stage's
    config class without touching it, so the stage's presets and `--set` keys stay as they are."""
    cls = dataclasses.make_dataclass(name, [(n, t, dataclasses.field(default=d)) for n, t, d, _ in fields],
                                     bases=(base,))
    cls.__field_docs__ = {n: doc for n, _, _, doc in fields}
    cls.__module__ = base.__module__
    return cls


def narrow(cfg: Any, base: type) -> Any:
    """The `base` config inside an `extend`ed one (what the stage's own function takes and saves)."""
    return base(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(base)})


class _Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one-line `ConfigError`s (starforge.cli prints them, exit 2)."""

    def error(self, message: str) -> typing.NoReturn:
        raise ConfigError(f"{self.prog}: {message} (see {self.prog} --help)")


def run_commands(prog: str, commands: Sequence[Command], argv: Sequence[str] | None = None,
                 description: str = "") -> int:
    """Parse `argv` for one of `commands` and run it; a single command with an empty name is the
    whole stage (`starforge eval ...`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(commands) == 1 and not commands[0].name:
        return run_command(prog, commands[0], argv)
    by_name = {c.name: c for c in commands}
    if not argv or argv[0] in ("-h", "--help"):
        width = max(map(len, by_name))
        rows = "\n".join(f"  {c.name.ljust(width)}  {c.help}" for c in commands)
        text = f"usage: {prog} <command> [flags]\n\n{description}\n\ncommands:\n{rows}\n\n" \
               f"`{prog} <command> --help` for its flags, `--help-config` for every config key."
        if not argv:
            raise ConfigError(f"{prog}: choose a command: {', '.join(by_name)} (see {prog} --help)")
        print(text.replace("\n\n\n", "\n\n"))
        return 0
    if argv[0] not in by_name:
        raise ConfigError(f"{prog}: unknown command '{argv[0]}'; choose one of: {', '.join(by_name)}")
    return run_command(f"{prog} {argv[0]}", by_name[argv[0]], argv[1:])


def build_parser(prog: str, command: Command, cls: type | None = None) -> argparse.ArgumentParser:
    """The command's parser: a flag per top-level field, then --config/--set/--help-config."""
    cls = cls or command.config_class()
    parser = _Parser(prog=prog, description=command.description or command.help,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    aliases: dict[str, list[str]] = {}
    for flag, name in command.aliases.items():
        aliases.setdefault(name, []).append(flag)
    for f in dataclasses.fields(cls):
        typ = hints[f.name]
        if f.name in command.no_flag or not _flaggable(typ):
            continue
        default = _default(f)
        text = docs.get(f.name, "")
        shown = "" if f.name in command.required or default is None and f.name in command.positional else \
            f" (default: {default!r})"
        kwargs: dict[str, Any] = {"help": f"{text}{shown}".replace("%", "%%")}
        if f.name in command.positional:
            nargs = "+" if _is_list(typ) else ("?" if default is not None or _optional(typ) else None)
            parser.add_argument(f.name, metavar=f.name.upper(), nargs=nargs, default=argparse.SUPPRESS, **kwargs)
            continue
        names = [f"--{f.name}", f"--{f.name.replace('_', '-')}"]
        if not command.flags_last:
            names.reverse()
        names = list(dict.fromkeys(names + [f"--{a}" for a in aliases.get(f.name, [])]))
        kwargs.update(dest=f.name, default=argparse.SUPPRESS)
        if typ is bool and default is False:
            parser.add_argument(*names, action="store_true", **kwargs)
        elif typ is bool:
            parser.add_argument(*names, type=_str2bool, nargs="?", const=True, metavar="BOOL", **kwargs)
        else:
            parser.add_argument(*names, metavar=_metavar(typ), **kwargs)
    for name, typ, default, text in command.extras:
        names = list(dict.fromkeys([f"--{name.replace('_', '-')}", f"--{name}"]))
        shown = f" (default: {default!r})" if default not in (None, False) else ""
        kwargs = {"dest": f"extra:{name}", "default": argparse.SUPPRESS, "help": f"{text}{shown}".replace("%", "%%")}
        if typ is bool:
            parser.add_argument(*names, action="store_true", **kwargs)
        else:
            parser.add_argument(*names, metavar=_metavar(typ), **kwargs)
    add_config_args(parser)
    parser.add_argument("--help-config", action="store_true", help="list every config key with its default and exit")
    if command.outputs:
        parser.add_argument("--overwrite", action="store_true",
                            help="write into an existing non-empty output folder that another command (or a "
                                 "person) made; only the files this command writes are replaced")
    return parser


def parse_command(prog: str, command: Command, argv: Sequence[str]) -> tuple[Any, bool] | None:
    """(config, overwrite) from `argv`, or None when it asked for --help-config."""
    parsed = _parse(prog, command, argv)
    return None if parsed is None else (parsed["config"], parsed["overwrite"])


def _parse(prog: str, command: Command, argv: Sequence[str]) -> dict[str, Any] | None:
    cls = command.config_class()
    args = vars(build_parser(prog, command, cls).parse_args(list(argv)))
    if args.pop("help_config"):
        print("\n".join(describe(cls)))
        return None
    overwrite = bool(args.pop("overwrite", False))
    path, overrides = args.pop("config"), args.pop("overrides")
    extras = {name: args.pop(f"extra:{name}", default) for name, _, default, _ in command.extras}
    for name, typ, _, _ in command.extras:
        if typ is not bool and isinstance(extras[name], str):
            extras[name] = _typed_extra(prog, name, typ, extras[name])
    hints = typing.get_type_hints(cls)
    flags = {key: _flag_value(hints[key], value) for key, value in args.items()}
    full = prog.removeprefix("starforge ")
    if command.load is not None:
        load = _resolve(command.load) if isinstance(command.load, str) else command.load
        cfg = load(path, list(overrides), flags=flags, command=full)
    else:
        cfg = load_config(cls, path, overrides, flags=flags, flags_last=command.flags_last, command=full)
    for name in command.required:
        if getattr(cfg, name) in (None, "", [], ()):
            flag = name.upper() if name in command.positional else f"--{_spelling(command, name)}"
            raise ConfigError(f"{prog}: {flag} is required")
    if command.pass_source:
        extras["config_path"] = path
        extras["overrides"] = [f"{k}={_as_yaml(v)}" for k, v in flags.items()] + list(overrides)
    return {"config": cfg, "overwrite": overwrite, "extras": extras}


def run_command(prog: str, command: Command, argv: Sequence[str]) -> int:
    parsed = _parse(prog, command, argv)
    if parsed is None:
        return 0
    cfg, overwrite, extras = parsed["config"], parsed["overwrite"], parsed["extras"]

    def paths(names: Sequence[str]) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = {}
        for name in names:
            value = getattr(cfg, name, None)
            values = value if isinstance(value, (list, tuple)) else [value]
            found[name] = [Path(v) for v in values if v not in (None, "") and not _not_a_path(v)]
        return found

    flag = {n: f"--{_spelling(command, n)}" if n not in command.positional else n.upper()
            for n in (*command.inputs, *command.outputs, *command.output_files)}
    claimed = []
    if command.outputs or command.output_files:
        claimed = run_dir.claim_outputs(
            prog.removeprefix("starforge "),
            {flag[n]: p for n, ps in paths(command.outputs).items() for p in ps},
            {flag[n]: p for n, ps in paths(command.inputs).items() for p in ps},
            files={flag[n]: p for n, ps in paths(command.output_files).items() for p in ps},
            overwrite=overwrite, create=not getattr(cfg, "dry_run", False))
    try:
        result = command.run_function()(cfg, **extras)
    except BaseException:
        for folder in claimed:  # a run that failed before writing anything leaves no folder behind
            run_dir.release(folder)
        raise
    return int(result) if isinstance(result, int) and not isinstance(result, bool) else 0


def _typed_extra(prog: str, name: str, typ: Any, text: str) -> Any:
    inner = _inner(typ)
    if inner in (int, float):
        try:
            return inner(text)
        except ValueError:
            raise ConfigError(f"{prog}: --{name.replace('_', '-')} must be {'an integer' if inner is int else 'a number'}, "
                              f"got {text!r}") from None
    return Path(text) if inner is Path else text


def _as_yaml(value: Any) -> str:
    """A flag value as the `--set` text that means the same (JSON is YAML)."""
    import json

    return json.dumps(value if not isinstance(value, Path) else str(value), default=str)


def _resolve(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _spelling(command: Command, name: str) -> str:
    return name if command.flags_last else name.replace("_", "-")


def _not_a_path(value: Any) -> bool:
    """`builtin:stdlib`, `hf:NAME`: inputs that are not files."""
    return isinstance(value, str) and ":" in value.split("/")[0] and not Path(value).exists()


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _optional(typ: Any) -> bool:
    return typing.get_origin(typ) in (typing.Union, types.UnionType) and type(None) in typing.get_args(typ)


def _inner(typ: Any) -> Any:
    """`X | None` -> X."""
    if _optional(typ):
        rest = [a for a in typing.get_args(typ) if a is not type(None)]
        return rest[0] if len(rest) == 1 else typ
    return typ


def _is_list(typ: Any) -> bool:
    return typing.get_origin(_inner(typ)) in (list, tuple)


def _flaggable(typ: Any) -> bool:
    inner = _inner(typ)
    return not dataclasses.is_dataclass(inner) and typing.get_origin(inner) is not dict and inner is not dict


def _metavar(typ: Any) -> str:
    inner = _inner(typ)
    if inner is int:
        return "N"
    if inner is float:
        return "X"
    if inner is Path:
        return "PATH"
    if _is_list(typ):
        return "A,B"
    if typing.get_origin(inner) is typing.Literal:
        return "{" + ",".join(map(str, typing.get_args(inner))) + "}"
    return "TEXT"


def _flag_value(typ: Any, value: Any) -> Any:
    """A flag's text as a config value: strings and paths as typed (a path named `null` stays a
    path), everything else as a YAML scalar (`4`, `1e-3`, `[a, b]`, `null`), checked by from_dict."""
    import yaml

    if isinstance(value, list):  # a positional list
        return value
    if not isinstance(value, str):
        return value
    inner = _inner(typ)
    if inner in (str, Path) or typing.get_origin(inner) is typing.Literal:
        return value
    if _is_list(typ) and not value.lstrip().startswith("["):
        return [v.strip() for v in value.split(",") if v.strip()]
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def _str2bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "y", "t"):
        return True
    if value in ("0", "false", "no", "n", "f"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
