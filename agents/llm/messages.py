"""Building chat messages: images as data URLs, text appended to the last user message."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from agents.errors import ConfigError

ImageInput = Path | bytes


def image_part(image: ImageInput) -> dict[str, Any]:
    data = image.read_bytes() if isinstance(image, Path) else image
    mime = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}


def attach_images(messages: list[dict[str, Any]], images: list[ImageInput]) -> list[dict[str, Any]]:
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i]["role"] == "user":
            content = out[i]["content"]
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
            out[i] = {**out[i], "content": parts + [image_part(img) for img in images]}
            return out
    raise ConfigError("images need a user message to attach to")


def append_to_last_user(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i]["role"] == "user" and isinstance(out[i]["content"], str):
            out[i] = {**out[i], "content": f"{out[i]['content']}\n\n{text}"}
            return out
    return [*out, {"role": "user", "content": text}]
