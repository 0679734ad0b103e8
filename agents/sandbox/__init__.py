"""Sandboxed execution of generated code (docs/sandbox.md): ``make_sandbox(settings.sandbox).run(...)``."""

from agents.sandbox.base import ReadOnlyMount, Sandbox, SandboxResult
from agents.sandbox.factory import docker_available, make_sandbox
from agents.sandbox.isolation import Isolation, probe_isolation
from agents.sandbox.local import LocalSandbox

__all__ = [
    "Isolation",
    "LocalSandbox",
    "ReadOnlyMount",
    "Sandbox",
    "SandboxResult",
    "docker_available",
    "make_sandbox",
    "probe_isolation",
]
