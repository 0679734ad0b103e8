"""Text files the user gives are read as UTF-8 with or without a byte-order mark; other encodings are one message.
A topic saved with a BOM (Notepad, PowerShell) had the mark in its title: '\\ufeff# My Title'."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from agents.errors import UserInputError
from agents.experiments.inputs import read_baseline
from agents.ideation.inputs import load_seed_ideas, load_topic
from agents.textfile import read_user_text


def test_a_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    topic = tmp_path / "topic.md"
    topic.write_bytes(codecs.BOM_UTF8 + "# Réseaux de neurones\n\n## Abstract\nWe study café data.\n".encode())
    parsed = load_topic(None, topic)
    assert parsed.title == "Réseaux de neurones" and "café" in parsed.abstract
    seeds = tmp_path / "seeds.json"
    seeds.write_bytes(codecs.BOM_UTF8 + json.dumps([{"name": "a", "title": "A", "abstract": "x"}]).encode())
    assert [s.name for s in load_seed_ideas(seeds)] == ["a"]  # json.loads refused the mark


def test_other_encodings_are_one_message_with_the_fix(tmp_path: Path) -> None:
    cp1252 = tmp_path / "topic.md"
    cp1252.write_bytes("# Réseaux\n".encode("cp1252"))
    with pytest.raises(UserInputError, match=r"is not UTF-8 text \(byte 0xe9 at offset 3, 'é' in Windows-1252\); save"):
        load_topic(None, cp1252)
    utf16 = tmp_path / "train.py"
    utf16.write_text("print(1)\n", encoding="utf-16")
    with pytest.raises(UserInputError, match=r"--code-to-use .*train.py is UTF-16 text .*; save it as UTF-8"):
        read_baseline(utf16)


def test_missing_folder_and_huge_files(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="topic file .*nope.md does not exist"):
        read_user_text(tmp_path / "nope.md", "topic file")
    with pytest.raises(UserInputError, match="is a folder; give the path of a file"):
        read_user_text(tmp_path, "topic file")
    big = tmp_path / "big.md"
    big.write_bytes(b"x" * (2 << 20))
    with pytest.raises(UserInputError, match="big.md is 2 MiB; a text file under 1 MiB is expected"):
        read_user_text(big, "topic file", max_bytes=1 << 20)
