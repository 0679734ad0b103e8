"""``shoal doctor``: check the machine before any money is spent.

Each check returns one line: a status (ok / warn / fail), what was found, and the fix. Only ``fail`` on a
*required* item makes ``shoal doctor`` (and the pipeline's preflight) exit non-zero.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import openai
from pydantic import BaseModel

from agents.llm.endpoints import openai_client
from agents.settings import ROLES, Settings

Status = Literal["ok", "warn", "fail"]

TEX_APT = (
    "apt-get install -y --no-install-recommends texlive-latex-base texlive-latex-recommended "
    "texlive-fonts-recommended texlive-science texlive-latex-extra latexmk chktex poppler-utils"
)


class Check(BaseModel):
    name: str
    status: Status
    detail: str
    fix: str = ""
    required: bool = True


def check_python() -> Check:
    v = sys.version_info
    ok = v >= (3, 11)
    return Check(
        name="python",
        status="ok" if ok else "fail",
        detail=f"Python {v.major}.{v.minor}.{v.micro}",
        fix="" if ok else "install Python 3.11 or newer",
    )


def _tool(name: str, purpose: str, required: bool, fix: str) -> Check:
    path = shutil.which(name)
    if path:
        return Check(name=name, status="ok", detail=f"{path} ({purpose})", required=required)
    return Check(
        name=name, status="fail" if required else "warn", detail=f"not found ({purpose})", fix=fix, required=required
    )


def check_tex() -> list[Check]:
    fix = f"sudo {TEX_APT}  (or: make setup)"
    return [
        _tool("pdflatex", "compiles the paper", True, fix),
        _tool("latexmk", "drives the LaTeX build", True, fix),
        _tool("chktex", "LaTeX lint fed back to the writer", False, fix),
        _tool("pdftoppm", "renders PDF pages for checks and the vision reviewer", False, fix),
    ]


def check_models(settings: Settings, probe: bool = True) -> list[Check]:
    """Configured endpoints answer ``models.list`` through the openai client; embedded weights are installed."""
    checks: list[Check] = []
    embedded_roles = [r for r in ROLES if settings.models.for_role(r).is_embedded]
    if embedded_roles:
        from agents.localmodel.weights import weights_status

        st = weights_status(settings.cache_dir)
        roles = ", ".join(embedded_roles)
        if not st.missing_parts:
            where = f"model file {st.model_path}" if st.present else "parts installed; joined on first use"
            checks.append(Check(name="embedded model", status="ok", detail=f"{where} (roles: {roles})"))
        else:
            checks.append(
                Check(
                    name="embedded model",
                    status="fail",
                    detail=f"{len(st.missing_parts)} of {st.parts_total} weight packages missing (roles: {roles})",
                    fix=st.install_command,
                )
            )
    seen: dict[tuple[str, str | None], list[str]] = {}
    for role in ROLES:
        rm = settings.models.for_role(role)
        if rm.base_url:
            seen.setdefault((rm.base_url, rm.api_key_env), []).append(role)
    for (url, key_env), role_names in seen.items():
        checks.append(_probe_endpoint(url, key_env, role_names, probe))
    return checks


def _probe_endpoint(url: str, key_env: str | None, roles: list[str], probe: bool) -> Check:
    import os

    name = f"endpoint {url}"
    key = os.environ.get(key_env, "") if key_env else "not-needed"
    if key_env and not key:
        return Check(
            name=name,
            status="fail",
            detail=f"${key_env} is not set (roles: {', '.join(roles)})",
            fix=f"export {key_env}=...",
        )
    if not probe:
        return Check(name=name, status="ok", detail=f"configured (roles: {', '.join(roles)}); not probed")
    try:
        client = openai_client(url, key, 5.0)
        client.models.list()
    except openai.AuthenticationError:
        return Check(name=name, status="fail", detail="the key was refused", fix=f"check ${key_env}")
    except openai.NotFoundError:
        return Check(name=name, status="ok", detail=f"reachable (no /models listing; roles: {', '.join(roles)})")
    except openai.OpenAIError as exc:
        return Check(
            name=name,
            status="fail",
            detail=f"unreachable: {type(exc).__name__}",
            fix="check models.<role>.base_url and that the server is running",
        )
    return Check(name=name, status="ok", detail=f"reachable (roles: {', '.join(roles)})")


def check_docker() -> Check:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
    except Exception as exc:  # the docker SDK raises many kinds; any of them means "no engine"
        return Check(
            name="docker engine",
            status="warn",
            required=False,
            detail=f"not available ({type(exc).__name__}); the local sandbox backend is used",
            fix="optional: install and start Docker for the docker sandbox backend",
        )
    return Check(name="docker engine", status="ok", detail="answers ping", required=False)


def check_sandbox(settings: Settings, run_probes: bool = True) -> list[Check]:
    """What the local sandbox isolates here (user, filesystem, network, pids, memory, disk), the experiment
    environment, and (when both are in place) the escape suite, as ``shoal sandbox check`` runs it."""
    from agents.errors import ConfigError
    from agents.sandbox import LocalSandbox
    from agents.sandbox.pyenv import env_path, is_built

    s = settings.sandbox
    iso = LocalSandbox(s).isolation
    missing = {p.name for p in iso.missing(s.min_isolation, network_requested=s.network)}
    checks: list[Check] = []
    for piece in iso.pieces(network_requested=s.network):
        if piece.ok:
            checks.append(Check(name=f"sandbox {piece.name}", status="ok", detail=piece.how))
            continue
        weak = piece.name not in missing or s.allow_weak
        checks.append(
            Check(
                name=f"sandbox {piece.name}",
                status="warn" if weak else "fail",
                detail=f"not isolated: {piece.how}" + (" (allowed: sandbox.allow_weak)" if s.allow_weak else ""),
                fix=piece.fix,
                required=not weak,
            )
        )
    env = env_path(s.python_env, s.extra_packages)
    extras = f" with {', '.join(s.extra_packages)}" if s.extra_packages else ""
    if is_built(env, s.extra_packages):
        checks.append(Check(name="experiment environment", status="ok", detail=f"{env}{extras}"))
    else:
        checks.append(
            Check(
                name="experiment environment",
                status="fail",
                detail=f"{env}{extras} is missing or outdated (generated code's Python: numpy, scipy, pandas, ...)",
                fix="shoal sandbox env --build" if extras else "scripts/setup.sh  (or: shoal sandbox env --build)",
            )
        )
        return checks
    if not run_probes or (missing and not s.allow_weak):
        return checks
    from agents.sandbox.probes import run_suite

    try:
        outcomes = list(run_suite(s, workspace=settings.workspace.resolve() if settings.workspace.exists() else None))
    except (ConfigError, OSError) as exc:
        return [*checks, Check(name="sandbox escape suite", status="fail", detail=f"could not run: {exc}")]
    breaches = [o for o in outcomes if not o.blocked]
    if breaches:
        detail = "; ".join(o.line() for o in breaches)
        fix = "see docs/sandbox.md; shoal sandbox check prints every probe"
        checks.append(Check(name="sandbox escape suite", status="fail", detail=detail, fix=fix))
    else:
        checks.append(Check(name="sandbox escape suite", status="ok", detail=f"{len(outcomes)} probes, all BLOCKED"))
    return checks


def check_ray(settings: Settings, probe: bool = True) -> list[Check]:
    """With ``executor = "ray"``: the cluster answers and every worker node can run experiment programs."""
    if settings.executor != "ray":
        return []
    address = settings.ray.address
    if address == "local":
        return [Check(name="ray", status="ok", detail="a Ray started on this machine for each run (sandbox above)")]
    if not probe:
        return [Check(name="ray", status="warn", detail=f"{address}: not contacted (no network probes)")]
    from agents.errors import ConfigError
    from agents.scale.ray_executor import RayExecutor

    try:
        executor = RayExecutor(settings)
    except ConfigError as exc:
        head, _, rest = str(exc).partition("\n")
        return [Check(name="ray", status="fail", detail=head, fix=rest.replace("\n", "; ").strip())]
    executor.close()
    if not executor.workers:
        return [
            Check(
                name="ray",
                status="warn",
                detail=f"{address}: no live node has the CPUs/GPUs/memory a node's task asks for ([ray])",
                fix="start workers with `ray start --address=...`, or lower ray.num_cpus / num_gpus / memory_mb",
            )
        ]
    return [Check(name="ray", status="ok", detail=f"{address}: {executor.workers} worker node(s) can run programs")]


def check_semantic_scholar(settings: Settings, probe: bool = True) -> Check:
    if not settings.literature.semantic_scholar:
        return Check(name="semantic scholar", status="ok", required=False, detail="disabled in settings")
    if not probe:
        return Check(name="semantic scholar", status="ok", required=False, detail="not probed")
    import urllib.error
    import urllib.request

    url = settings.literature.api_url or "https://api.semanticscholar.org/graph/v1"
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/paper/search?query=test&limit=1", timeout=5):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code == 429:
            return Check(
                name="semantic scholar",
                status="warn",
                required=False,
                detail="rate limited (429)",
                fix=f"set ${settings.literature.api_key_env} for a higher limit",
            )
        return Check(name="semantic scholar", status="ok", required=False, detail=f"reachable (HTTP {exc.code})")
    except (OSError, ValueError) as exc:
        return Check(
            name="semantic scholar",
            status="warn",
            required=False,
            detail=f"unreachable ({type(exc).__name__}); literature search falls back to the local library",
            fix="optional: set literature.local_library to a BibTeX file or a folder of PDFs",
        )
    return Check(name="semantic scholar", status="ok", required=False, detail="reachable")


def check_disk(path: Path, need_gb: float = 3.0) -> Check:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free / 1e9
    ok = free >= need_gb
    return Check(
        name="disk space",
        status="ok" if ok else "fail",
        detail=f"{free:.1f} GB free at {probe}",
        fix="" if ok else f"free at least {need_gb:.0f} GB or set --workspace elsewhere",
    )


def run_checks(settings: Settings, probe_network: bool = True) -> list[Check]:
    steps: list[Callable[[], Check | list[Check]]] = [
        check_python,
        lambda: check_models(settings, probe=probe_network),
        check_tex,
        check_docker,
        lambda: check_sandbox(settings),
        lambda: check_ray(settings, probe=probe_network),
        lambda: check_semantic_scholar(settings, probe=probe_network),
        lambda: check_disk(settings.workspace),
    ]
    out: list[Check] = []
    for step in steps:
        result = step()
        out.extend(result if isinstance(result, list) else [result])
    return out


def required_failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.required and c.status == "fail"]
