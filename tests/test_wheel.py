"""A wheel carries the presets: built from this tree, installed alone (no dependencies, into a
folder of its own), its `starforge` finds every model preset and run config by name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def source_copy(dest: Path) -> Path:
    """The tree's tracked and new files (links kept as links), so no stale build/ folder of the
    checkout leaks into the wheel."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src, dst = ROOT / name, dest / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the work tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, dst)
    return dest


@pytest.mark.slow
def test_wheel_ships_the_presets(tmp_path):
    wheels = tmp_path / "wheels"
    src = source_copy(tmp_path / "src")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(src)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("starforge-*.whl")
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                              str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    probe = """
import json, starforge
from starforge.config import preset_dir, resolve_preset
from pretrain.model import load_preset, preset_names
print(json.dumps({"file": starforge.__file__, "dir": str(preset_dir()), "models": preset_names(),
                  "layers": load_preset("starcoderbase-1b").num_layers,
                  "run": str(resolve_preset("runs/pretrain-tiny"))}))
"""
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["file"].startswith(str(site))  # the installed copy, not this checkout
    assert found["dir"].startswith(str(site)) and not Path(found["dir"]).is_symlink()
    assert set(found["models"]) == {p.stem for p in (ROOT / "configs" / "models").glob("*.yaml")}
    assert found["layers"] == 24 and found["run"].startswith(str(site))
    cli = subprocess.run([sys.executable, "-m", "starforge", "pretrain", "describe", "tiny", "--json"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert cli.returncode == 0 and json.loads(cli.stdout)["preset"] == "tiny", cli.stderr[-2000:]
