"""The experiment environment: the Python generated code runs in, separate from Shoal's own install.

    python -m agents.sandbox env path      # where it lives
    python -m agents.sandbox env status    # exit 0 when built from the current requirements, 1 otherwise
    python -m agents.sandbox env ensure    # build or update it (scripts/setup.sh calls this)
    shoal sandbox env --build              # the same for the configured environment, sandbox.extra_packages too

A plain venv built from ``docker/sandbox-requirements.txt`` (pinned), stamped with that file's sha256. Extra
packages a user asks for (``sandbox.extra_packages``) make an environment of their own, beside the default one,
stamped with the hash of the list and the extras. Inside the sandbox it is mounted read-only at
``/opt/shoal-env``; its base interpreter's prefix (``/usr`` usually) too.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from agents.errors import ShoalError

REQUIREMENTS = Path(__file__).resolve().parents[2] / "docker" / "sandbox-requirements.txt"
STAMP = ".shoal-requirements.sha256"
BUILDING = ".shoal-building"  # present from the start of a build until its stamp is written
INSIDE = "/opt/shoal-env"
ROOT_DEFAULT = Path("/var/cache/shoal/sandbox-env")
_BUILD_TIMEOUT_S = 1800


def default_path() -> Path:
    """``~/.cache/shoal/sandbox-env`` (``$XDG_CACHE_HOME``); as root ``/var/cache/shoal/sandbox-env``, because
    the unprivileged sandbox uid must be able to reach it and root's home is usually 0700."""
    if os.geteuid() == 0:
        return ROOT_DEFAULT
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "shoal" / "sandbox-env"


def env_path(configured: Path | None, extras: Sequence[str] = ()) -> Path:
    """``sandbox.python_env`` when set; else the default place, with the extras' hash in its name when there are
    extra packages (so the default environment stays as it is)."""
    if configured:
        return Path(configured).expanduser().resolve()
    base = default_path()
    return base.with_name(f"{base.name}-{requirements_hash(extras)[:12]}") if extras else base


def requirements_hash(extras: Sequence[str] = ()) -> str:
    """sha256 of the pinned list, and of the extra packages when there are any."""
    pinned = REQUIREMENTS.read_bytes()
    if not extras:
        return hashlib.sha256(pinned).hexdigest()
    return hashlib.sha256(pinned + b"\n# sandbox.extra_packages\n" + "\n".join(sorted(extras)).encode()).hexdigest()


def is_built(path: Path, extras: Sequence[str] = ()) -> bool:
    """The environment exists, runs, and was built from the current requirements file (and these extras)."""
    stamp = path / STAMP
    return (
        (path / "bin" / "python").exists()
        and stamp.is_file()
        and stamp.read_text().strip() == requirements_hash(extras)
    )


@functools.lru_cache(maxsize=4)
def importable(path: Path, extras: tuple[str, ...] = ()) -> frozenset[str]:
    """The top-level module names the environment at ``path`` installs (its site-packages: packages, modules,
    extension modules); empty when it is not built. The standard library is not listed."""
    if not is_built(path, extras):
        return frozenset()
    names: set[str] = set()
    for site in path.glob("lib/python*/site-packages"):
        for entry in site.iterdir():
            name = entry.name
            if name.endswith((".dist-info", ".egg-info", ".pth")) or name.startswith(("__", ".")):
                continue
            if entry.is_dir() or name.endswith((".py", ".so", ".pyd")):
                names.add(name.split(".")[0])
    return frozenset(names)


def base_prefix(path: Path) -> Path | None:
    """The prefix of the interpreter the venv was made from (its ``home`` key's parent), e.g. ``/usr``."""
    try:
        lines = (path / "pyvenv.cfg").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return Path(value.strip()).resolve().parent
    return None


def _base_python() -> str:
    """A system interpreter (under /usr, visible in the sandbox anyway) when it is new enough, else ours."""
    for cand in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if Path(cand).exists():
            ok = subprocess.run(
                [cand, "-c", "import sys, venv; sys.exit(sys.version_info < (3, 10))"], capture_output=True, timeout=30
            )
            if ok.returncode == 0:
                return cand
    return getattr(sys, "_base_executable", sys.executable)


def missing_message(path: Path, extras: Sequence[str] = ()) -> str:
    """What to do when the environment at ``path`` is not built from the current list (and these extras)."""
    if extras:
        return (
            f"the experiment environment {path} with sandbox.extra_packages ({', '.join(extras)}) is not built "
            "yet or is outdated: run `shoal sandbox env --build` (pip installs the pinned list and the extras; it "
            "needs the package index)"
        )
    return (
        f"the experiment environment {path} is missing or outdated: run scripts/setup.sh (or `shoal sandbox env "
        "--build`), or point sandbox.python_env at a built one"
    )


class BuildError(ShoalError):
    """pip could not install the list (a conflict, a package the index does not have, no index reachable)."""


def ensure(path: Path, extras: Sequence[str] = ()) -> str:
    """Build (or rebuild after a requirements change) the environment; returns what was done."""
    if is_built(path, extras):
        return f"ok: already built ({path})"
    if path.exists():
        ours = (path / STAMP).is_file() or (path / BUILDING).is_file()
        if not ours and (not path.is_dir() or any(path.iterdir())):
            raise BuildError(
                f"{path} exists and was not built by Shoal (no {STAMP}): it is left as it is; remove it, or set "
                "sandbox.python_env to a new folder"
            )
        shutil.rmtree(path)  # an earlier build of ours, from another list
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        path.parent.chmod(0o755)
    path.mkdir()
    (path / BUILDING).write_text("a build by Shoal; an interrupted one is removed by the next\n")
    subprocess.run([_base_python(), "-m", "venv", str(path)], check=True, timeout=300)
    pip = [str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # one resolution of the pinned list and the extras together: an extra that needs another version of a pinned
    # package is a conflict pip reports, not a silent change of the list
    done = subprocess.run(
        [*pip, "-r", str(REQUIREMENTS), *extras], capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S
    )
    if done.returncode != 0:
        shutil.rmtree(path, ignore_errors=True)
        asked = f" with {', '.join(extras)}" if extras else ""
        raise BuildError(f"pip could not build the experiment environment{asked}: {done.stderr.strip()[-1500:]}")
    # matplotlib's font list, bound read-only into each run's private MPLCONFIGDIR
    mpl = {**os.environ, "MPLCONFIGDIR": str(path / "mplconfig"), "MPLBACKEND": "Agg"}
    fonts = [str(path / "bin" / "python"), "-c", "import matplotlib.font_manager"]
    subprocess.run(fonts, env=mpl, capture_output=True, timeout=300)
    # readable (not writable) by the unprivileged sandbox user
    subprocess.run(["chmod", "-R", "go+rX,go-w", str(path)], check=True, timeout=300)
    (path / STAMP).write_text(requirements_hash(extras) + "\n")
    (path / BUILDING).unlink()
    return f"built {path}"


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    path = env_path(Path(argv[1]) if len(argv) > 1 else None)
    if cmd == "path":
        print(path)
        return 0
    if cmd == "status":
        print(f"{path}: {'ok' if is_built(path) else 'missing or outdated'}")
        return 0 if is_built(path) else 1
    if cmd == "ensure":
        try:
            print(ensure(path))
        except BuildError as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0
    print("usage: python -m agents.sandbox env path|status|ensure [PATH]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
