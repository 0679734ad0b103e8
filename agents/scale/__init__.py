"""Where experiment programs run: ``make_executor`` gives this machine's sandbox or a Ray cluster.

Both have the sandbox's ``run(workdir, argv, *, timeout_s, env, mounts)`` and leave the outputs in ``workdir``,
so the experiment manager (and anything else that runs generated programs) takes either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.settings import Settings

if TYPE_CHECKING:
    from agents.sandbox.base import Sandbox
    from agents.scale.ray_executor import RayExecutor


def make_executor(settings: Settings) -> Sandbox | RayExecutor:
    """The configured executor: ``local`` (the sandbox of ``settings.sandbox``) or ``ray``."""
    if settings.executor == "ray":
        from agents.scale.ray_executor import RayExecutor

        return RayExecutor(settings)
    from agents.sandbox import make_sandbox

    return make_sandbox(settings.sandbox)


__all__ = ["make_executor"]
