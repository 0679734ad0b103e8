"""Settings precedence: defaults < TOML config file < SHOAL_ environment < --set overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from agents.errors import ConfigError
from agents.settings import Settings, load_settings, overrides_to_dict


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("SHOAL_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray ./shoal.toml


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "shoal.toml"
    p.write_text(text)
    return p


def test_defaults() -> None:
    s = load_settings()
    assert s.workspace == Path("workspace")
    assert s.models.coder.is_embedded
    assert s.budget.max_usd is None
    assert s.search.stage_iters == [8, 6, 8, 6]


def test_file_beats_defaults(tmp_path: Path) -> None:
    cfg = _write(tmp_path, '[models.coder]\nmodel = "file"\ntemperature = 0.1\n[budget]\nmax_usd = 3.0\n')
    s = load_settings(cfg)
    assert (s.models.coder.model, s.models.coder.temperature, s.budget.max_usd) == ("file", 0.1, 3.0)
    assert s.models.writer.model == "embedded"


def test_env_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _write(tmp_path, '[models.coder]\nmodel = "file"\ntemperature = 0.1\n')
    monkeypatch.setenv("SHOAL_MODELS__CODER__MODEL", "env")
    monkeypatch.setenv("SHOAL_WORKSPACE", "/tmp/elsewhere")
    s = load_settings(cfg)
    assert s.models.coder.model == "env"
    assert s.models.coder.temperature == 0.1  # the file's other keys survive the env override
    assert s.workspace == Path("/tmp/elsewhere")


def test_cli_beats_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _write(tmp_path, '[models.coder]\nmodel = "file"\n')
    monkeypatch.setenv("SHOAL_MODELS__CODER__MODEL", "env")
    monkeypatch.setenv("SHOAL_MODELS__CODER__MAX_TOKENS", "77")
    s = load_settings(cfg, ["models.coder.model=cli", "budget.max_usd=2.5", "search.stage_iters=[1,2,3,4]"])
    assert s.models.coder.model == "cli"
    assert s.models.coder.max_tokens == 77
    assert s.budget.max_usd == 2.5
    assert s.search.stage_iters == [1, 2, 3, 4]


def test_config_file_from_env_and_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "[budget]\nmax_tokens = 1000\n")
    assert load_settings().budget.max_tokens == 1000  # ./shoal.toml is picked up
    other = tmp_path / "other.toml"
    other.write_text("[budget]\nmax_tokens = 5\n")
    monkeypatch.setenv("SHOAL_CONFIG", str(other))
    assert load_settings().budget.max_tokens == 5


def test_resolved_toml_round_trips(tmp_path: Path) -> None:
    s = load_settings(None, ["models.reviewer.base_url=http://127.0.0.1:9/v1", "budget.max_usd=1"])
    out = _write(tmp_path, s.to_toml())
    again = load_settings(out)
    assert again == s
    assert tomllib.loads(s.to_toml())["models"]["reviewer"]["base_url"] == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["models.coder.temperature=9"], "models.coder.temperature"),
        (["nosuch.key=1"], "nosuch"),
        (["models.coder"], "KEY=VALUE"),
        (["models..x=1"], "KEY=VALUE"),
        (["models.artist.model=x"], "artist"),
    ],
)
def test_bad_overrides_give_clear_errors(overrides: list[str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(None, overrides)


def test_bad_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(_write(tmp_path, "[models\n"))
    with pytest.raises(ConfigError, match="budget.max_usd"):
        load_settings(_write(tmp_path, '[budget]\nmax_usd = "lots"\n'))
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf[budget]\nmax_usd = 2\n")  # TOML's 'Invalid statement (at line 1, column 1)'
    with pytest.raises(ConfigError, match="starts with a byte-order mark .* save it as UTF-8 without one"):
        load_settings(bom)


def test_unknown_settings_name_the_known_ones(tmp_path: Path) -> None:
    """A misspelt or misplaced key names the keys its section has, and the nearest one."""
    with pytest.raises(ConfigError, match=r"budget.max_usdd: unknown setting; did you mean 'max_usd'\?"):
        load_settings(None, ["budget.max_usdd=3"])
    with pytest.raises(ConfigError, match=r"models.default: unknown setting; .*known here: coder, feedback, ideation"):
        load_settings(_write(tmp_path, '[models.default]\nmodel = "x"\n'))
    with pytest.raises(ConfigError, match=r"workspce: unknown setting; did you mean 'workspace'\?"):
        load_settings(None, ["workspce=runs"])


def test_override_values_are_typed() -> None:
    assert overrides_to_dict(["a.b=1", "a.c=true", "a.d=hello world", "e=[1, 2]"]) == {
        "a": {"b": 1, "c": True, "d": "hello world"},
        "e": [1, 2],
    }


def test_unknown_role_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown model role"):
        Settings().models.for_role("painter")
