"""``make_sandbox``: the configured backend; ``auto`` picks docker only when an engine answers."""

from __future__ import annotations

import logging

from agents.errors import ConfigError
from agents.sandbox.base import Sandbox
from agents.sandbox.local import LocalSandbox
from agents.settings import SandboxSettings

log = logging.getLogger(__name__)


def docker_available() -> bool:
    """True when ``docker.from_env().ping()`` works (an engine is running and reachable)."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no SDK, no socket, engine down: all mean "not available"
        return False


def make_sandbox(settings: SandboxSettings) -> Sandbox:
    backend = settings.backend
    if backend == "auto":
        backend = "docker" if docker_available() else "local"
        log.info("sandbox backend: %s (auto)", backend)
    if backend == "docker":
        if not docker_available():
            raise ConfigError(
                "sandbox.backend is 'docker' but no Docker engine answers; start Docker or set sandbox.backend=local"
            )
        from agents.sandbox.docker_backend import DockerSandbox

        return DockerSandbox(settings)
    return LocalSandbox(settings)
