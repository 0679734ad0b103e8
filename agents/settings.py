"""One settings model for the whole of Shoal.

Precedence, lowest to highest: defaults < TOML config file < environment (``SHOAL_`` prefix, ``__`` between
nested names, e.g. ``SHOAL_MODELS__CODER__MODEL=gpt-4o-mini``) < command-line ``--set a.b=c`` overrides.

The config file is ``--config FILE`` on the command line, else ``$SHOAL_CONFIG``, else ``./shoal.toml`` when it
exists. A role whose ``base_url`` is empty uses the embedded local model (see ``agents.localmodel``).
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agents.errors import ConfigError

ROLES: tuple[str, ...] = ("ideation", "coder", "feedback", "vlm", "writer", "reviewer")
Role = Literal["ideation", "coder", "feedback", "vlm", "writer", "reviewer"]

_CONFIG_FILE: ContextVar[Path | None] = ContextVar("shoal_config_file", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RoleModel(_Section):
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


class Models(_Section):
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


class LLMSettings(_Section):
    """How calls are made: timeouts, bounded retries and repairs."""

    request_timeout_s: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20, description="retries after the first attempt")
    backoff_base_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    max_repairs: int = Field(default=2, ge=0, le=10, description="structured-output repair rounds")
    max_concurrency: int = Field(
        default=4, ge=1, le=256, description="model calls in flight at once per endpoint (parallel workers share it)"
    )


class Budget(_Section):
    max_usd: float | None = Field(default=None, ge=0, description="stop before a call would exceed this")
    max_tokens: int | None = Field(default=None, ge=0, description="prompt + completion tokens per run")


class EmbeddedModel(_Section):
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


class SandboxSettings(_Section):
    """Where and under which limits generated code runs (see agents.sandbox and docs/sandbox.md)."""

    backend: Literal["auto", "local", "docker"] = "auto"
    timeout_s: float = Field(default=300.0, gt=0, description="wall-clock limit per run")
    memory_mb: int = Field(default=4096, ge=64, description="memory of a run as a whole (all its processes)")
    cpu_s: int = Field(default=600, ge=1, description="CPU seconds of a run as a whole, and per process")
    file_size_mb: int = Field(default=512, ge=1, description="largest file a run may write (RLIMIT_FSIZE)")
    disk_mb: int = Field(default=2048, ge=1, description="total bytes a run may have in its node directory")
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


class RaySettings(_Section):
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


class SearchSettings(_Section):
    """Experiment tree search (see agents.experiments)."""

    num_drafts: int = Field(default=3, ge=1)
    debug_prob: float = Field(default=0.5, ge=0.0, le=1.0)
    max_debug_depth: int = Field(default=3, ge=0)
    workers: int = Field(default=1, ge=1)
    stage_iters: list[int] = Field(default_factory=lambda: [8, 6, 8, 6], min_length=4, max_length=4)
    num_seeds: int = Field(default=3, ge=1)
    seed: int = 0
    sampling_lambda: float = Field(default=10.0, ge=0.0, description="parent sampling sharpness (0 = uniform)")
    patience: int = Field(default=3, ge=1, description="stage 3 ends after this many good nodes without improvement")
    judge_stage_completion: bool = Field(default=True, description="one model call may end stage 3 early")
    edit_mode: Literal["auto", "full", "patch"] = Field(
        default="auto", description="auto: SEARCH/REPLACE patches until a model's patches mostly fail, then rewrites"
    )
    novelty_threshold: float = Field(
        default=0.99, gt=0.0, le=1.0, description="code embedding cosine at which a new draft is a duplicate"
    )
    edit_novelty_threshold: float = Field(
        default=1.0, gt=0.0, le=1.0, description="the same for improvements (1.0: only normalised copies)"
    )
    max_regenerations: int = Field(default=1, ge=0, le=5, description="bounded retries after a rejected program")
    coder_models: list[str] = Field(
        default_factory=list, description="several model names on the coder endpoint: a UCB bandit picks per node"
    )
    ucb_c: float = Field(default=1.0, ge=0.0, description="UCB exploration constant for coder_models")
    memory_lines: int = Field(default=8, ge=0, description="lines of what-worked/what-failed memory in prompts")


class LiteratureSettings(_Section):
    """Literature search (see agents.literature): Semantic Scholar, then the local library, then none."""

    semantic_scholar: bool = True
    api_key_env: str = "S2_API_KEY"
    api_url: str | None = Field(default=None, description="override (tests point this at a local replay)")
    timeout_s: float = Field(default=20.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    local_library: Path | None = Field(
        default=None, description="BibTeX file, PDF, or folder of .bib and .pdf files (searched recursively)"
    )
    min_interval_s: float = Field(default=1.0, ge=0, description="least time between Semantic Scholar requests")
    backoff_base_s: float = Field(default=2.0, ge=0, description="first wait after a 429 or 5xx; doubles")
    backoff_max_s: float = Field(default=30.0, ge=0)
    cache_ttl_days: float = Field(default=7.0, ge=0, description="how long cached answers are reused; 0 = never")
    local_max_pages: int = Field(default=4, ge=1, description="PDF pages read per paper for the local index")


class IdeationSettings(_Section):
    """The ideation loop (see agents.ideation)."""

    num_ideas: int = Field(default=3, ge=1, le=50)
    max_steps: int = Field(default=6, ge=1, le=30, description="tool steps per idea before it must be finalized")
    reflections: int = Field(default=2, ge=0, le=10, description="reflection rounds per idea (stops early on done)")
    tool_mode: Literal["auto", "tools", "json"] = Field(
        default="auto",
        description="tools: OpenAI tool calls; json: one JSON action per step; auto: tools unless the role is "
        "embedded or models.ideation.supports_tools is false",
    )
    search_limit: int = Field(default=8, ge=1, le=100, description="papers per search")
    judge_threshold: float = Field(
        default=0.92, ge=0, le=1, description="embedding similarity above which the model judges novelty"
    )
    duplicate_threshold: float = Field(
        default=0.985, ge=0, le=1, description="similarity above which an idea is a duplicate without asking"
    )
    max_judgements: int = Field(default=3, ge=0, le=20, description="close pairs the model judges per idea")
    max_regenerations: int = Field(default=2, ge=0, le=10, description="retries for a rejected near-duplicate")


class WriteupSettings(_Section):
    """The paper writer (see agents.writeup)."""

    layout: Literal["workshop", "conference"] = Field(
        default="workshop", description="workshop: 4 pages, one column; conference: 8 pages, two columns"
    )
    author: str = Field(default="Anonymous Authors", description="author line of the paper")
    length_scale: float = Field(
        default=1.0, ge=0.25, le=2.0, description="scales every section's target length (small models: 0.5)"
    )
    citation_rounds: int = Field(default=2, ge=0, le=10, description="model <-> literature search rounds")
    max_references: int = Field(default=12, ge=0, le=100)
    integrity_rounds: int = Field(default=1, ge=0, le=5, description="rounds of sending wrong numbers back")
    max_compile_repairs: int = Field(default=3, ge=0, le=10, description="LaTeX error repairs from the log")
    chktex: bool = Field(default=True, description="feed chktex warnings back to the writer once")
    max_shorten_rounds: int = Field(default=2, ge=0, le=5, description="rounds enforcing the page limit")
    compile_timeout_s: float = Field(default=180.0, gt=0)


class FiguresSettings(_Section):
    """Per-node plots, figure lint and critic, final aggregation (see agents.figures)."""

    node_plots: bool = Field(default=True, description="make plots for every good node")
    node_plot_attempts: int = Field(default=2, ge=1, le=5, description="plot-script attempts per node")
    node_critic: bool = Field(default=True, description="one critic call per node's plots")
    max_final_figures: int = Field(default=8, ge=1, le=20, description="cap on figures chosen for the paper")
    max_nodes: int = Field(default=6, ge=1, le=20, description="nodes whose results the aggregator may use")
    aggregate_rounds: int = Field(default=3, ge=1, le=6, description="script/lint/critique rounds")
    script_timeout_s: float = Field(default=120.0, gt=0, description="timeout of one plotting script")
    max_subplots: int = Field(default=9, ge=1, description="lint: more axes than this is too many")
    min_font_pt: float = Field(default=6.0, gt=0, description="lint: smallest readable font at print size")
    print_width_in: float = Field(default=6.75, gt=0, description="lint: widest a figure is printed (inches)")
    critic_max_images: int = Field(default=4, ge=1, description="images sent in one critic call")


class ReviewSettings(_Section):
    """The automated reviewer (see ``reviewer``): procedure sizes, paper digest budget, input limits."""

    num_reviews: int = Field(default=1, ge=1, le=10, description="independent reviews in the ensemble")
    num_reflections: int = Field(default=1, ge=0, le=5, description="reflection rounds per review (may revise)")
    meta_review: Literal["auto", "always", "never"] = Field(
        default="auto", description="area-chair meta-review; auto = when there is more than one review"
    )
    few_shot: int | None = Field(
        default=None,
        ge=0,
        le=2,
        description="bundled example reviews shown to the model; unset: 1, 0 for the embedded model (it copies them)",
    )
    paper_tokens: int = Field(default=3500, ge=500, description="token budget of the paper digest in the prompt")
    review_max_tokens: int = Field(default=900, ge=200, description="completion cap of one review")
    blind: bool = Field(default=True, description="remove de-anonymising cues before the model sees the paper")
    figures: bool = Field(default=True, description="review page images when models.vlm.supports_images")
    figure_pages: int = Field(default=4, ge=1, le=20, description="page images sent to the vision model")
    max_file_mb: float = Field(default=50.0, gt=0, description="larger input files are refused")
    max_pages: int = Field(default=150, ge=1, description="PDFs with more pages are refused")
    head: bool = Field(default=True, description="score every paper with the learned score head (no model call)")
    head_weights: Path | None = Field(
        default=None, description="score-head weights (<stem>.npz + <stem>.json); unset: the ones shipped in reviewer/"
    )
    decision_rule: Literal["head", "review", "combined"] = Field(
        default="head",
        description="who decides: head = the score head's P(accept) vs its threshold (the review explains); "
        "review = the written review's decision; combined = the head's calibration of the mean of its rating and "
        "the review's overall",
    )
    flag_gap: float = Field(
        default=2.0, gt=0, description="flag a review whose overall differs from the head's rating by this much"
    )


class DataSettings(_Section):
    """Research on the user's data (``--data``): the data card, the held-out split, the coder's rules."""

    card_max_chars: int = Field(default=2500, ge=200, description="characters of the data card in a prompt")
    exact_max_mb: float = Field(default=64.0, gt=0, description="larger tables are sampled for the data card")
    sample_rows: int = Field(default=2000, ge=10, description="rows read from a sampled table")
    split_seed: int = Field(default=0, description="seed of the --holdout split")
    environment: str = Field(
        default="auto",
        description="coder rules template under templates/prompts/_partials/environments/ (auto: from the "
        "packages the sandbox's Python has)",
    )
    model_strength: Literal["auto", "small", "large"] = Field(
        default="auto", description="small: short programs (auto: small for the embedded model)"
    )
    max_lines_small: int = Field(default=60, ge=10, description="program length asked of a small coder model")
    max_lines_large: int = Field(default=250, ge=10, description="program length asked of a large coder model")


class EvolveSettings(_Section):
    """Evolve mode (see agents.evolve): LLM-driven program evolution over islands of evaluated programs."""

    max_samples: int = Field(default=50, ge=0, description="proposals (model edit requests) before the run stops")
    time_budget_min: float | None = Field(default=None, gt=0, description="stop proposing after this many minutes")
    workers: int = Field(default=2, ge=1, le=64, description="proposals and evaluations in flight at once")
    islands: int = Field(default=2, ge=1, le=16)
    migration_interval: int = Field(default=10, ge=1, description="evaluated programs between migrations")
    migration_count: int = Field(default=1, ge=1, description="elites each island sends to the next")
    archive_size: int = Field(default=20, ge=1, description="elites kept per island (the parent pool)")
    parent_selection: Literal["weighted", "power_law", "hill_climbing"] = "weighted"
    selection_lambda: float = Field(default=10.0, ge=0.0, description="sharpness of weighted parent selection")
    power_law_alpha: float = Field(default=1.0, ge=0.0)
    top_inspirations: int = Field(default=1, ge=0, le=5, description="best archive programs shown in the prompt")
    random_inspirations: int = Field(default=1, ge=0, le=5, description="random archive programs shown")
    operators: dict[str, float] = Field(
        default_factory=lambda: {"rewrite": 0.4, "lines": 0.3, "diff": 0.1, "crossover": 0.2},
        description="prior mix of edit operators (rewrite, lines, diff, crossover), adapted by measured success",
    )
    max_output_tokens: int = Field(default=1024, ge=64, description="completion cap of an edit")
    repairs: int = Field(default=1, ge=0, le=3, description="times a failed edit or evaluation goes back")
    novelty_threshold: float = Field(
        default=0.995, gt=0.0, le=1.0, description="code-embedding cosine above which the model judges novelty"
    )
    novelty_judge: bool = Field(default=True, description="ask the model whether a close candidate is new")
    max_resamples: int = Field(default=1, ge=0, le=5, description="new proposals after a near-duplicate")
    models: list[str] = Field(
        default_factory=list, description="model names on the coder endpoint; a UCB bandit picks one per proposal"
    )
    ucb_c: float = Field(default=1.0, ge=0.0)
    scratchpad_every: int = Field(default=10, ge=0, description="evaluated programs between scratchpad notes (0: off)")
    eval_timeout_s: float = Field(default=120.0, gt=0, description="wall-clock limit of one evaluation")
    seed: int = 0
    task: str = Field(default="", description="what the program should achieve (default: its module docstring)")


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
        lines.append(f"  {loc}: {e['msg']}")
    return "\n".join(lines)


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
