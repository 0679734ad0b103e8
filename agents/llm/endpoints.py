"""Resolving a role to an endpoint: a configured OpenAI-compatible URL, or the embedded local model."""

from __future__ import annotations

import os
from typing import Protocol
from urllib.parse import urlparse

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
