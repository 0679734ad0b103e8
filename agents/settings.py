"""One settings model for the whole of Shoal.

Precedence, lowest to highest: defaults < TOML config file < environment (``SHOAL_`` prefix, ``__`` between
nested names, e.g. ``SHOAL_MODELS__CODER__MODEL=gpt-4o-mini``) < command-line ``--set a.b=c`` overrides.

The config file is ``--config FILE`` on the command line, else ``$SHOAL_CONFIG``, else ``./shoal.toml`` when it
exists. A role whose ``base_url`` is empty uses the embedded local model (see ``agents.localmodel``).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agents.errors import ConfigError
from agents.settings_stages import DataSettings as DataSettings
from agents.settings_stages import EvolveSettings as EvolveSettings
from agents.settings_stages import FiguresSettings as FiguresSettings
from agents.settings_stages import IdeationSettings as IdeationSettings
from agents.settings_stages import LiteratureSettings as LiteratureSettings
from agents.settings_stages import ReviewSettings as ReviewSettings
from agents.settings_stages import SearchSettings as SearchSettings
from agents.settings_stages import Section
from agents.settings_stages import WriteupSettings as WriteupSettings

ROLES: tuple[str, ...] = ("ideation", "coder", "feedback", "vlm", "writer", "reviewer")
Role = Literal["ideation", "coder", "feedback", "vlm", "writer", "reviewer"]

_CONFIG_FILE: ContextVar[Path | None] = ContextVar("shoal_config_file", default=None)


class RoleModel(Section):
    """Which model serves one role, and what it costs."""

    base_url: str | None = Field(
        default=None, description="OpenAI-compatible base URL (…/v1); empty = embedded local model"
    )
    model: str = Field(default="embedded", description="model name sent to the endpoint")
    api_key_env: str | None = Field(default=None, description="name of the environment variable with the key")
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=1024, ge=1)
    price_in_per_mtok: float = Field(default=0.0, ge=0.0, description="USD per million prompt tokens")
    price_out_per_mtok: float = Field(default=0.0, ge=0.0, description="USD per million completion tokens")
    structured_mode: Literal["json_schema", "json_object", "text"] = Field(
        default="json_schema", description="how structured output is requested from this endpoint"
    )
    supports_images: bool = Field(default=False, description="the model accepts image inputs")
    supports_tools: bool = Field(default=True, description="the endpoint accepts OpenAI tool calls")

    @property
    def is_embedded(self) -> bool:
        return not self.base_url


def _role(**kw: Any) -> RoleModel:
    return RoleModel(**kw)


class Models(Section):
    ideation: RoleModel = Field(default_factory=lambda: _role(temperature=0.8, max_tokens=1024))
    coder: RoleModel = Field(default_factory=lambda: _role(temperature=0.5, max_tokens=1536))
    feedback: RoleModel = Field(default_factory=lambda: _role(temperature=0.3, max_tokens=512))
    vlm: RoleModel = Field(default_factory=lambda: _role(temperature=0.3, max_tokens=512))
    writer: RoleModel = Field(default_factory=lambda: _role(temperature=0.6, max_tokens=1536))
    reviewer: RoleModel = Field(default_factory=lambda: _role(temperature=0.5, max_tokens=1024))

    def for_role(self, role: str) -> RoleModel:
        if role not in ROLES:
            raise ConfigError(f"unknown model role {role!r}; roles are: {', '.join(ROLES)}")
        return getattr(self, role)


class LLMSettings(Section):
    """How calls are made: timeouts, bounded retries and repairs."""

    request_timeout_s: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20, description="retries after the first attempt")
    backoff_base_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    max_repairs: int = Field(default=2, ge=0, le=10, description="structured-output repair rounds")
    max_concurrency: int = Field(
        default=4, ge=1, le=256, description="model calls in flight at once per endpoint (parallel workers share it)"
    )


class Budget(Section):
    max_usd: float | None = Field(default=None, ge=0, description="stop before a call would exceed this")
    max_tokens: int | None = Field(default=None, ge=0, description="prompt + completion tokens per run")


class EmbeddedModel(Section):
    """The default local model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, served by xllamacpp on loopback."""

    n_ctx: int = Field(default=8192, ge=512)
    threads: int = Field(
        default=0, ge=0, description="0 = auto: all usable cores, divided among embedded servers already running"
    )
    parallel: int = Field(
        default=1,
        ge=0,
        description="concurrent request slots; 0 = llm.max_concurrency (each slot computes a shared prompt prefix "
        "once: on 2 cores 4 slots measured slower than 1, see docs/scaling.md)",
    )
    startup_timeout_s: float = Field(default=180.0, gt=0)


_ENV_PASSTHROUGH = [
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "LD_LIBRARY_PATH",
]


IsolationPiece = Literal["user", "filesystem", "network", "pids", "memory", "disk"]
_ISOLATION_PIECES: tuple[IsolationPiece, ...] = ("user", "filesystem", "network", "pids", "memory", "disk")


class SandboxSettings(Section):
    """Where and under which limits generated code runs (see agents.sandbox and docs/sandbox.md)."""

    backend: Literal["auto", "local", "docker"] = "auto"
    timeout_s: float = Field(default=300.0, gt=0, description="wall-clock limit per run")
    memory_mb: int = Field(default=4096, ge=64, description="memory of a run as a whole (all its processes)")
    cpu_s: int = Field(default=600, ge=1, description="CPU seconds of a run as a whole, and per process")
    file_size_mb: int = Field(default=512, ge=1, description="largest file a run may write (RLIMIT_FSIZE)")
    disk_mb: int = Field(default=2048, ge=1, description="total bytes a run may have in its node directory")
    max_files: int = Field(
        default=100_000, ge=100, description="files and folders a run may add to its node directory (inodes)"
    )
    max_processes: int = Field(default=256, ge=8, description="processes and threads of a run as a whole")
    min_isolation: list[IsolationPiece] = Field(
        default_factory=lambda: list(_ISOLATION_PIECES),
        description="what must be isolated before generated code runs (a missing piece refuses the run)",
    )
    allow_weak: bool = Field(
        default=False, description="run generated code even below min_isolation (a warning is recorded)"
    )
    python_env: Path | None = Field(
        default=None,
        description="the experiment Python environment (default: <cache>/shoal/sandbox-env, built by setup.sh)",
    )
    extra_packages: list[str] = Field(
        default_factory=list,
        description="pip requirements installed beside the pinned list (e.g. 'xgboost>=2'): an environment of "
        "their own, built by `shoal sandbox env --build`",
    )
    uid: int = Field(
        default=0, ge=0, description="host uid/gid generated code runs as when Shoal is root (0 = shoal-sandbox user)"
    )
    network: bool = Field(default=False, description="allow generated code to use the network")
    max_output_chars: int = Field(default=20000, ge=1000, description="stdout/stderr kept, head and tail")
    docker_image: str = "shoal-sandbox:latest"
    address_space_limit: bool = Field(
        default=True,
        description="enforce memory_mb as RLIMIT_AS in the local backend; turn off for CUDA programs, "
        "which reserve large virtual address ranges",
    )
    env_passthrough: list[str] = Field(
        default_factory=lambda: list(_ENV_PASSTHROUGH),
        description="harmless variables copied from Shoal's environment (secret-looking names are still dropped)",
    )
    cpus: float = Field(default=2.0, gt=0, description="CPU cores a run may use")
    gpus: int = Field(
        default=0, ge=-1, description="GPUs: docker requests them; local binds /dev/nvidia* when not 0 (-1 = all)"
    )

    @field_validator("extra_packages")
    @classmethod
    def _requirements(cls, value: list[str]) -> list[str]:
        """Each one a requirement specifier pip understands (name, extras, versions), never a pip option."""
        from packaging.requirements import InvalidRequirement, Requirement

        out = []
        for item in value:
            text = item.strip()
            try:
                if text.startswith("-"):
                    raise InvalidRequirement("a pip option")
                Requirement(text)
            except InvalidRequirement as exc:
                raise ValueError(
                    f"{item!r} is not a requirement pip understands ({exc}); write it as in a requirements "
                    "file, e.g. 'xgboost' or 'lightgbm>=4,<5'"
                ) from None
            out.append(text)
        return out


class RaySettings(Section):
    """The Ray cluster that runs experiment nodes when ``executor = "ray"`` (see docs/scaling.md)."""

    address: str = Field(
        default="local",
        description="'local': start a Ray for this run on this machine; 'auto': the cluster this machine belongs "
        "to (ray start / RAY_ADDRESS); 'host:port' (GCS) or 'ray://host:10001' (Ray Client)",
    )
    num_cpus: float = Field(default=1.0, ge=0, description="CPUs each node's task requests")
    num_gpus: float = Field(default=0.0, ge=0, description="GPUs each node's task requests")
    memory_mb: int = Field(default=0, ge=0, description="memory each node's task requests (0: no request)")
    max_retries: int = Field(default=2, ge=0, le=10, description="re-runs of a node whose Ray worker died")
    queue_timeout_s: float = Field(
        default=3600.0, gt=0, description="how long a node may wait for a free worker before it fails"
    )
    local_cpus: int | None = Field(default=None, ge=1, description="CPUs of the local Ray ('local' address)")


class Settings(BaseSettings):
    """Every setting Shoal uses. ``shoal config show`` prints the resolved values."""

    model_config = SettingsConfigDict(
        env_prefix="SHOAL_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    workspace: Path = Field(default=Path("workspace"), description="where runs are created")
    cache_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "shoal",
        description="embedded model file and other caches",
    )
    models: Models = Field(default_factory=Models)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    budget: Budget = Field(default_factory=Budget)
    embedded: EmbeddedModel = Field(default_factory=EmbeddedModel)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    executor: Literal["local", "ray"] = Field(
        default="local", description="where experiment programs run: this machine's sandbox, or a Ray cluster"
    )
    ray: RaySettings = Field(default_factory=RaySettings)
    literature: LiteratureSettings = Field(default_factory=LiteratureSettings)
    writeup: WriteupSettings = Field(default_factory=WriteupSettings)
    figures: FiguresSettings = Field(default_factory=FiguresSettings)
    ideation: IdeationSettings = Field(default_factory=IdeationSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    evolve: EvolveSettings = Field(default_factory=EvolveSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _CONFIG_FILE.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    def to_toml(self) -> str:
        """The resolved settings as TOML (None values are left out: TOML has no null)."""
        data = self.model_dump(mode="json", exclude_none=True)
        return tomli_w.dumps(data)


def parse_override(item: str) -> tuple[list[str], Any]:
    """``a.b=c`` -> (["a", "b"], value); the value is read as a TOML literal when it is one, else a string."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE with a dotted key, e.g. --set budget.max_usd=2.5")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.split("."), value


def overrides_to_dict(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        path, value = parse_override(item)
        node = out
        for part in path[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is set twice with different shapes")
            node = nxt
        node[path[-1]] = value
    return out


def find_config_file(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get("SHOAL_CONFIG")
    if env:
        return Path(env)
    local = Path("shoal.toml")
    return local if local.is_file() else None


def _format_validation(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        msg = _unknown_key(e["loc"]) if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    """'unknown setting', with the names the enclosing section does have and the nearest of them."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        annotation = model.model_fields[str(part)].annotation if str(part) in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return "unknown setting"
        model = annotation
    known = sorted(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown setting; {hint}known here: {', '.join(known)}"


def load_settings(
    config_file: Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    **init: Any,
) -> Settings:
    """Resolve settings from every source; raises ConfigError with a readable message on bad input."""
    path = find_config_file(config_file)
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; pass an existing TOML file to --config")
        if path.read_bytes().startswith(b"\xef\xbb\xbf"):
            raise ConfigError(
                f"config file {path} starts with a byte-order mark (as Notepad saves UTF-8), which TOML does not "
                "allow; save it as UTF-8 without one"
            )
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    cli = overrides_to_dict(overrides)
    merged = _deep_merge(init, cli)
    token = _CONFIG_FILE.set(path)
    try:
        return Settings(**merged)
    except ValidationError as exc:
        origin = f" (config file {path})" if path else ""
        raise ConfigError(f"invalid settings{origin}:\n{_format_validation(exc)}") from exc
    finally:
        _CONFIG_FILE.reset(token)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
