"""sandbox.extra_packages: packages a user's experiments need beyond the pinned list get an experiment
environment of their own, built by pip, seen by the sandbox, the coder's package list and evolve's import check.

The build here is offline: pip installs a wheel made in the test from a local folder (PIP_NO_INDEX,
PIP_FIND_LINKS) over a one-line pinned list, so it needs no package index."""

from __future__ import annotations

import base64
import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.cli.main import app
from agents.data.environment import probe_packages
from agents.errors import ConfigError
from agents.sandbox import LocalSandbox, pyenv
from agents.settings import SandboxSettings, load_settings

runner = CliRunner()


def _wheel(folder: Path, name: str = "shoalextra", version: str = "0.1") -> None:
    """A pure-Python wheel, written by hand (what `pip wheel` makes of a one-module package)."""
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: shoal-test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for path, data in files.items()
    ]
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{name}-{version}.dist-info/RECORD", "\n".join(record) + "\n")


@pytest.fixture
def offline_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder pip installs from (and nothing else), and a pinned list of one line that it satisfies."""
    d = Path(tempfile.mkdtemp(prefix="shoal-extra-test-"))
    d.chmod(0o755)
    (d / "wheels").mkdir()
    _wheel(d / "wheels")
    _wheel(d / "wheels", "shoalpinned", "1.0")
    (d / "requirements.txt").write_text("shoalpinned==1.0\n")
    monkeypatch.setattr(pyenv, "REQUIREMENTS", d / "requirements.txt")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(d / "wheels"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_each_entry_must_be_a_requirement() -> None:
    with pytest.raises(ConfigError, match=r"'--index-url http://x' is not a requirement pip understands"):
        load_settings(None, ['sandbox.extra_packages=["lightgbm>=4", "--index-url http://x"]'])
    with pytest.raises(ConfigError, match=r"'xgboost=2' is not a requirement pip understands"):
        load_settings(None, ['sandbox.extra_packages=["xgboost=2"]'])
    assert load_settings(None, ['sandbox.extra_packages=[" lightgbm>=4 "]']).sandbox.extra_packages == ["lightgbm>=4"]


def test_extras_get_an_environment_of_their_own() -> None:
    plain = pyenv.env_path(None)
    mine = pyenv.env_path(None, ["lightgbm"])
    assert mine != plain and mine.parent == plain.parent and mine.name.startswith(plain.name + "-")
    assert pyenv.env_path(None, ["lightgbm"]) == mine  # stable: the same list finds the same build
    assert pyenv.requirements_hash(["a", "b"]) == pyenv.requirements_hash(["b", "a"])
    assert pyenv.requirements_hash() == hashlib.sha256(pyenv.REQUIREMENTS.read_bytes()).hexdigest()  # unchanged
    configured = Path("/opt/my-env")
    assert pyenv.env_path(configured, ["lightgbm"]) == configured


def test_built_with_the_extra_and_used_by_every_reader(offline_index: Path) -> None:
    env = offline_index / "env"
    extras = ["shoalextra==0.1"]
    settings = SandboxSettings(backend="local", timeout_s=30.0, python_env=env, extra_packages=extras)
    with pytest.raises(ConfigError, match=r"shoal sandbox env --build"):
        LocalSandbox(settings).env_dir()
    assert pyenv.ensure(env, extras) == f"built {env}"
    assert pyenv.is_built(env, extras) and not pyenv.is_built(env)  # the stamp names the extras
    assert pyenv.ensure(env, extras).startswith("ok: already built")
    assert {"shoalextra", "shoalpinned"} <= pyenv.importable(env, tuple(extras))  # evolve's import check
    box = LocalSandbox(settings)
    if not box.isolation.bwrap:
        pytest.skip("bubblewrap does not run here (see `shoal doctor`): see docs/sandbox.md")
    node = offline_index / "node"
    node.mkdir()
    (node / "code.py").write_text("import shoalextra\nprint('value', shoalextra.VALUE)\n")
    res = box.run(node, ["python", "code.py"])
    assert res.ok and "value 42" in res.stdout, res.stderr[-500:]
    found = probe_packages(box, extras)  # the coder's list of packages it may import
    assert found is not None and "shoalextra" in found and "shoalpinned" not in found


def test_a_build_pip_cannot_do_is_one_message(offline_index: Path, tmp_path: Path) -> None:
    env = offline_index / "env"
    (tmp_path / "shoal.toml").write_text(f'[sandbox]\npython_env = "{env}"\nextra_packages = ["nosuchpkg-shoal"]\n')
    result = runner.invoke(app, ["--config", str(tmp_path / "shoal.toml"), "sandbox", "env", "--build"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "pip could not build the experiment environment with nosuchpkg-shoal" in text
    assert "No matching distribution found for nosuchpkg-shoal" in text and "Traceback" not in text
    assert not env.exists()  # nothing half-built is left to be mistaken for an environment
    status = runner.invoke(app, ["--config", str(tmp_path / "shoal.toml"), "sandbox", "env"])
    assert status.exit_code == 1 and "not built" in status.output


def test_a_folder_shoal_did_not_build_is_never_replaced(tmp_path: Path) -> None:
    """sandbox.python_env pointing at someone's own venv: the build refuses instead of deleting it."""
    own = tmp_path / "my-venv"
    (own / "bin").mkdir(parents=True)
    (own / "bin" / "python").write_text("#!/bin/sh\n")
    with pytest.raises(pyenv.BuildError, match="was not built by Shoal"):
        pyenv.ensure(own, ["lightgbm"])
    assert (own / "bin" / "python").is_file()


def test_an_interrupted_build_of_ours_is_replaced(offline_index: Path) -> None:
    env = offline_index / "env"
    env.mkdir()
    (env / pyenv.BUILDING).write_text("")  # what a killed build leaves (no stamp yet)
    (env / "half.txt").write_text("")
    assert pyenv.ensure(env, ["shoalextra==0.1"]) == f"built {env}"
    assert not (env / "half.txt").exists() and not (env / pyenv.BUILDING).exists()
