"""The environment generated code sees: built from scratch, never inherited wholesale, free of secrets."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping

log = logging.getLogger(__name__)

_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
_SECRET_PREFIXES = ("OPENAI_", "SHOAL_")


def is_secret_name(name: str) -> bool:
    """Names that must never reach generated code (API keys, tokens, Shoal's own configuration)."""
    return bool(_SECRET.search(name)) or name.upper().startswith(_SECRET_PREFIXES)


def build_env(
    *,
    home: str,
    path: str,
    passthrough: Iterable[str] = (),
    extra: Mapping[str, str] | None = None,
    defaults: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A minimal environment: PATH, HOME, LANG, MPLBACKEND=Agg, unbuffered Python, plus allowed extras."""
    env: dict[str, str] = {
        "PATH": path,
        "HOME": home,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",  # output written before a kill is still captured
        "PYTHONNOUSERSITE": "1",
    }
    env.update(defaults or {})
    for name in passthrough:
        value = os.environ.get(name)
        if value is not None and not is_secret_name(name):
            env[name] = value
    for name, value in (extra or {}).items():
        if is_secret_name(name):
            log.warning("sandbox: dropped environment variable %s (secret-looking names never reach the code)", name)
            continue
        env[name] = str(value)
    return env
