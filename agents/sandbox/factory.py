"""``make_sandbox``: the configured backend; ``auto`` picks docker only when an engine answers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from agents.errors import ConfigError
from agents.sandbox.base import Sandbox
from agents.sandbox.local import LocalSandbox
from agents.sandbox.pyenv import requirements_hash
from agents.settings import SandboxSettings

log = logging.getLogger(__name__)

REQUIREMENTS_LABEL = "shoal.sandbox.requirements"


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


def image_has_env(image: str, client: Any = None, extras: Sequence[str] = ()) -> bool:
    """The image carries the experiment environment: its label matches the current requirements list (and the
    extra packages: an image built from the list alone lacks them)."""
    try:
        if client is None:
            import docker

            client = docker.from_env(timeout=5)
        labels = client.images.get(image).labels or {}
    except Exception:  # not pulled, no engine, no SDK: all mean "not usable"
        return False
    return bool(labels.get(REQUIREMENTS_LABEL) == requirements_hash(extras))


def make_sandbox(settings: SandboxSettings) -> Sandbox:
    """The configured backend; the local one refuses at once (ConfigError) below ``sandbox.min_isolation`` or
    without its experiment environment."""
    backend = settings.backend
    if backend == "auto":
        usable = docker_available() and image_has_env(settings.docker_image, extras=settings.extra_packages)
        backend = "docker" if usable else "local"
        log.info("sandbox backend: %s (auto)", backend)
    if backend == "docker":
        if not docker_available():
            raise ConfigError(
                "sandbox.backend is 'docker' but no Docker engine answers; start Docker or set sandbox.backend=local"
            )
        from agents.sandbox.docker_backend import DockerSandbox

        return DockerSandbox(settings)
    local = LocalSandbox(settings)
    local.check()
    local.env_dir()  # built from the current list and sandbox.extra_packages, or one message saying how
    return local
