"""The experiment environment: the Python generated code runs in, separate from Shoal's own install.

    python -m agents.sandbox env path      # where it lives
    python -m agents.sandbox env status    # exit 0 when built from the current requirements, 1 otherwise
    python -m agents.sandbox env ensure    # build or update it (scripts/setup.sh calls this)

A plain venv built from ``docker/sandbox-requirements.txt`` (pinned), stamped with that file's sha256. Inside the
sandbox it is mounted read-only at ``/opt/shoal-env``; its base interpreter's prefix (``/usr`` usually) too.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[2] / "docker" / "sandbox-requirements.txt"
STAMP = ".shoal-requirements.sha256"
INSIDE = "/opt/shoal-env"
ROOT_DEFAULT = Path("/var/cache/shoal/sandbox-env")
_BUILD_TIMEOUT_S = 1800


def default_path() -> Path:
    """``~/.cache/shoal/sandbox-env`` (``$XDG_CACHE_HOME``); as root ``/var/cache/shoal/sandbox-env``, because
    the unprivileged sandbox uid must be able to reach it and root's home is usually 0700."""
    if os.geteuid() == 0:
        return ROOT_DEFAULT
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "shoal" / "sandbox-env"


def env_path(configured: Path | None) -> Path:
    return Path(configured).expanduser().resolve() if configured else default_path()


def requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def is_built(path: Path) -> bool:
    """The environment exists, runs, and was built from the current requirements file."""
    stamp = path / STAMP
    return (path / "bin" / "python").exists() and stamp.is_file() and stamp.read_text().strip() == requirements_hash()


@functools.lru_cache(maxsize=4)
def importable(path: Path) -> frozenset[str]:
    """The top-level module names the environment at ``path`` installs (its site-packages: packages, modules,
    extension modules); empty when it is not built. The standard library is not listed."""
    if not is_built(path):
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


def ensure(path: Path) -> str:
    """Build (or rebuild after a requirements change) the environment; returns what was done."""
    if is_built(path):
        return f"ok: already built ({path})"
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        path.parent.chmod(0o755)
    subprocess.run([_base_python(), "-m", "venv", str(path)], check=True, timeout=300)
    pip = [str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True, timeout=_BUILD_TIMEOUT_S)
    # matplotlib's font list, bound read-only into each run's private MPLCONFIGDIR
    mpl = {**os.environ, "MPLCONFIGDIR": str(path / "mplconfig"), "MPLBACKEND": "Agg"}
    subprocess.run([str(path / "bin" / "python"), "-c", "import matplotlib.font_manager"], env=mpl, timeout=300)
    # readable (not writable) by the unprivileged sandbox user
    subprocess.run(["chmod", "-R", "go+rX,go-w", str(path)], check=True, timeout=300)
    (path / STAMP).write_text(requirements_hash() + "\n")
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
        print(ensure(path))
        return 0
    print("usage: python -m agents.sandbox env path|status|ensure [PATH]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
