"""The settings of each stage of the pipeline (search, literature, ideation, writeup, figures, review, data,
evolve): one section each of ``agents.settings.Settings``, which re-exports them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A settings section: unknown keys are an error, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SearchSettings(Section):
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


class LiteratureSettings(Section):
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


class IdeationSettings(Section):
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


class WriteupSettings(Section):
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


class FiguresSettings(Section):
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


class ReviewSettings(Section):
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


class DataSettings(Section):
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


class EvolveSettings(Section):
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
