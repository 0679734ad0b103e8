"""The coder's rules from the experiment environment: which packages the sandbox's Python really has (probed by
running a tiny program in the sandbox), which rules template fits them, and how long a program the coder model
should write (by its strength). The rules themselves are Jinja partials under
``templates/prompts/_partials/environments/``; ``data.environment`` in the settings picks one by name.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from agents.prompts import prompt_exists
from agents.settings import Settings

log = logging.getLogger(__name__)

CANDIDATES = (
    "numpy", "scipy", "pandas", "sklearn", "matplotlib", "PIL", "pyarrow", "torch", "torchvision", "xgboost",
    "lightgbm", "statsmodels", "polars", "jax",
)  # fmt: skip
# the candidates found, then the modules the extra distributions (sandbox.extra_packages) install
_PROBE = """import importlib.metadata, importlib.util, json, re, sys
names, extra = json.loads(sys.argv[1]), json.loads(sys.argv[2])
norm = lambda d: re.sub(r"[-_.]+", "-", d).lower()
wanted = {norm(d) for d in extra}
mods = sorted(m for m, dists in importlib.metadata.packages_distributions().items()
              if not m.startswith("_") and wanted & {norm(d) for d in dists})
print(json.dumps([n for n in names if importlib.util.find_spec(n) is not None] + mods))
"""
PROBE_TIMEOUT_S = 60.0


def probe_packages(sandbox: Any, extras: list[str] | None = None) -> list[str] | None:
    """The candidate packages importable inside the sandbox, and the modules of the ``extras`` distributions
    (``sandbox.extra_packages``), or None when the probe could not run."""
    from packaging.requirements import Requirement

    wanted = [Requirement(x).name for x in extras or []]
    with tempfile.TemporaryDirectory(prefix="shoal-probe-") as tmp:
        (Path(tmp) / "probe.py").write_text(_PROBE, encoding="utf-8")
        try:
            argv = ["python", "probe.py", json.dumps(list(CANDIDATES)), json.dumps(wanted)]
            res = sandbox.run(Path(tmp), argv, timeout_s=PROBE_TIMEOUT_S)
        except (OSError, ValueError, NotImplementedError) as exc:
            log.warning("could not probe the experiment environment: %s", exc)
            return None
    lines = [ln for ln in str(getattr(res, "stdout", "")).splitlines() if ln.startswith("[")]
    if getattr(res, "exit_code", 1) != 0 or not lines:
        log.warning("could not probe the experiment environment: %s", str(getattr(res, "stderr", ""))[-200:])
        return None
    try:
        found = json.loads(lines[-1])
    except ValueError:
        return None
    return list(dict.fromkeys(str(n) for n in found if isinstance(n, str) and n.isidentifier()))


def template_for(packages: list[str]) -> str:
    if "sklearn" in packages and "numpy" in packages:
        return "scientific"
    return "numpy" if "numpy" in packages else "stdlib"


def coder_environment(settings: Settings, sandbox: Any = None, *, multi_file: bool = False) -> dict[str, Any]:
    """The ``env`` variable of the coder prompts (without a sandbox to probe: numpy and matplotlib assumed)."""
    cfg = settings.data
    found = probe_packages(sandbox, settings.sandbox.extra_packages) if sandbox is not None else None
    packages = found if found is not None else ["numpy", "matplotlib"]
    name = template_for(packages) if cfg.environment == "auto" else cfg.environment
    if not prompt_exists(f"_partials/environments/{name}"):
        from agents.errors import ConfigError

        raise ConfigError(
            f"data.environment = {name!r}: no template templates/prompts/_partials/environments/{name}.md.j2"
        )
    strength = cfg.model_strength
    if strength == "auto":
        strength = "small" if settings.models.coder.is_embedded else "large"
    return {
        "name": name,
        "packages": packages,
        "probed": found is not None,
        "strength": strength,
        "max_lines": cfg.max_lines_small if strength == "small" else cfg.max_lines_large,
        "multi_file": multi_file,
    }
