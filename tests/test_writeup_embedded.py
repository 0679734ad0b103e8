"""Demo/smoke test: the embedded local model (Qwen2.5-Coder-1.5B, CPU) writes the paper of a real small run.

Set ``SHOAL_WRITEUP_DEMO_DIR`` to keep the run directory (paper, attempts, report.json) for inspection."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader
from writeup_support import StubLiterature, build_run

from agents.errors import ModelUnavailable
from agents.llm import LLM, Ledger, read_ledger
from agents.rundir import create_run
from agents.settings import load_settings
from agents.writeup import WriteupReport, write_paper


@pytest.mark.embedded
@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_embedded_model_writes_a_compiling_paper(tmp_path: Path) -> None:
    """Slow (10-60 minutes on 2 shared cores): about a dozen generations of 100-300 tokens by the 1.5B model on
    CPU; sections are kept short (length_scale 0.4)."""
    if shutil.which("latexmk") is None:
        pytest.skip("LaTeX is not installed")
    from agents.localmodel.weights import ensure_model_file

    base = load_settings(None, [])
    try:
        ensure_model_file(base.cache_dir)
    except ModelUnavailable as exc:
        pytest.skip(f"embedded weights not available: {exc}")
    keep = os.environ.get("SHOAL_WRITEUP_DEMO_DIR")
    workspace = Path(keep) if keep else tmp_path / "workspace"
    settings = load_settings(
        None,
        [
            "writeup.citation_rounds=1",
            "writeup.length_scale=0.4",
            "writeup.max_shorten_rounds=1",
            "writeup.max_compile_repairs=2",
            "llm.request_timeout_s=1500",
            "llm.max_retries=1",
        ],
        workspace=workspace,
        cache_dir=base.cache_dir,
    )
    assert settings.models.writer.is_embedded
    run = create_run(settings, "embedded writeup demo")
    build_run(run.path)
    pdf = write_paper(run, LLM(settings, Ledger(run.ledger_path)), settings, StubLiterature())

    assert pdf.is_file() and len(PdfReader(str(pdf)).pages) >= 2
    report = WriteupReport.model_validate_json((run.path / "paper" / "report.json").read_text())
    tex = (run.path / "paper" / "paper.tex").read_text()
    bib = (run.path / "paper" / "references.bib").read_text()
    bib_keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    cited = {k for m in re.finditer(r"\\cite[a-z]*\*?(?:\[[^\]]*\])*\{([^}]*)\}", tex) for k in m.group(1).split(",")}
    assert {k.strip() for k in cited} <= bib_keys
    assert "\\begin{tabular}" in tex and "\\includegraphics" in tex
    calls = read_ledger(run.ledger_path)
    assert calls and all(c.prompt.startswith("writeup/") for c in calls)
    assert report.pages_body is not None and report.compile_attempts >= 1
