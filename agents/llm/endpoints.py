"""Resolving a role to an endpoint: a configured OpenAI-compatible URL, or the embedded local model."""

from __future__ import annotations

import ipaddress
import os
from typing import Protocol
from urllib.parse import urlparse

import openai
from pydantic import BaseModel

from agents.errors import ModelUnavailable
from agents.settings import RoleModel, Settings


class Endpoint(BaseModel):
    base_url: str
    api_key: str
    model: str
    label: str  # "embedded" or the URL's host, for the ledger


class EndpointResolver(Protocol):
    def resolve(self, role: str, model: RoleModel) -> Endpoint: ...


class DefaultResolver:
    """Configured endpoints as they are; roles with no ``base_url`` share one embedded server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def resolve(self, role: str, model: RoleModel) -> Endpoint:
        if model.is_embedded:
            from agents.localmodel.server import get_shared_server

            server = get_shared_server(self.settings)
            base_url = server.start()
            return Endpoint(base_url=base_url, api_key="embedded", model=server.model_name, label="embedded")
        assert model.base_url is not None
        api_key = "not-needed"
        if model.api_key_env:
            api_key = os.environ.get(model.api_key_env, "")
            if not api_key:
                raise ModelUnavailable(
                    f"role {role!r} uses {model.base_url} with the key from ${model.api_key_env}, which is not set; "
                    f"export {model.api_key_env}=... or change models.{role}.api_key_env"
                )
        host = urlparse(model.base_url).netloc or model.base_url
        return Endpoint(base_url=model.base_url, api_key=api_key, model=model.model, label=host)


def is_loopback(base_url: str) -> bool:
    """True for an endpoint on this machine (the embedded model, a local vLLM/Ollama, the scripted test server)."""
    host = urlparse(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def openai_client(base_url: str, api_key: str, timeout: float) -> openai.OpenAI:
    """An ``openai`` client without its own retries (ours are bounded and logged). A loopback endpoint is reached
    directly: an ``HTTP(S)_PROXY`` meant for the outside world must not swallow calls to a local model."""
    http_client = openai.DefaultHttpxClient(trust_env=False) if is_loopback(base_url) else None
    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout, http_client=http_client)
