"""The Docker backend: the container's configuration (checked by the docker SDK, no engine needed) and, where a
Docker engine answers, real runs without network, past a timeout and past the memory limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.sandbox import docker_available, make_sandbox
from agents.settings import SandboxSettings

SMALL = {"backend": "local", "timeout_s": 20.0, "memory_mb": 1024, "cpu_s": 10, "file_size_mb": 2}


def _settings(**kw: object) -> SandboxSettings:
    return SandboxSettings(**{**SMALL, **kw})


_needs_docker = pytest.mark.skipif(not docker_available(), reason="no Docker engine answers docker.from_env().ping()")


def test_docker_container_config_is_locked_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The create() arguments, validated by the docker SDK itself (no engine needed to build them)."""
    from docker.models.containers import _create_container_args

    from agents.sandbox.docker_backend import MOUNT, container_config

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    cfg = container_config(_settings(gpus=-1, memory_mb=512, cpus=1.5), tmp_path, ["python", "code.py"], {"A": "1"})
    assert cfg["network_mode"] == "none" and cfg["mem_limit"] == cfg["memswap_limit"] == "512m"
    assert cfg["nano_cpus"] == 1_500_000_000 and cfg["working_dir"] == MOUNT and cfg["cap_drop"] == ["ALL"]
    assert cfg["volumes"] == {str(tmp_path.resolve()): {"bind": MOUNT, "mode": "rw"}}
    assert {u["Name"]: u["Soft"] for u in cfg["ulimits"]} == {"cpu": 10, "fsize": 2 * 1024 * 1024, "core": 0}
    assert cfg["device_requests"][0]["Count"] == -1 and cfg["device_requests"][0]["Capabilities"] == [["gpu"]]
    assert cfg["environment"]["A"] == "1" and "OPENAI_API_KEY" not in cfg["environment"]
    assert "LD_LIBRARY_PATH" not in cfg["environment"]
    create = _create_container_args({**cfg, "version": "1.43"})  # raises on arguments the SDK does not know
    assert create["host_config"]["NetworkMode"] == "none" and create["host_config"]["Memory"] == 512 * 1024 * 1024
    assert "device_requests" not in container_config(_settings(), tmp_path, ["python"], None)


@_needs_docker
def test_docker_runs_code_without_network(tmp_path: Path) -> None:
    (tmp_path / "code.py").write_text(
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    print('CONNECTED')\n"
        "except OSError as exc:\n    print('REFUSED', exc)\nopen('out.txt', 'w').write('hi')\nraise SystemExit(3)\n"
    )
    res = make_sandbox(_settings(backend="docker")).run(tmp_path, ["python", "code.py"])
    assert res.exit_code == 3 and "REFUSED" in res.stdout
    assert (tmp_path / "out.txt").read_text() == "hi"


@_needs_docker
def test_docker_timeout_and_memory(tmp_path: Path) -> None:
    sandbox = make_sandbox(_settings(backend="docker", memory_mb=128))
    (tmp_path / "sleep.py").write_text("import time\ntime.sleep(60)\n")
    res = sandbox.run(tmp_path, ["python", "sleep.py"], timeout_s=2)
    assert res.timed_out and res.killed_reason == "timeout" and res.duration_s < 10
    (tmp_path / "mem.py").write_text('x = b"x" * (1024 * 1024 * 1024)\n')  # written, so really resident
    res = sandbox.run(tmp_path, ["python", "mem.py"])
    assert res.killed_reason == "memory"
