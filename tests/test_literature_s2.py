"""Semantic Scholar through the real ``semanticscholar`` client against a local replay of real recorded answers:
search, lookups, empty results, 404/403, 429 with bounded retries, stalls, the cache, and the fallback chain."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from agents.literature import FallbackLiterature, LiteratureUnavailable, make_literature
from agents.literature.semantic_scholar import SemanticScholarBackend
from agents.settings import Settings
from agents.testing.s2_replay import S2Replay
from tests.conftest import shared_data

TURING_ID = "2d5673caa9e6af3a7b82a43f19ee920992db07ad"


def backend(settings: Settings, tmp_path: Path, **changes: object) -> SemanticScholarBackend:
    return SemanticScholarBackend(settings.literature.model_copy(update=changes), tmp_path / "cache")


def test_search_returns_recorded_papers_cut_to_limit(
    s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path
) -> None:
    papers = backend(s2_settings, tmp_path).search("Turing", limit=5)
    assert [p.title for p in papers][:2] == [
        "Using DeepSpeed and Megatron to Train Megatron-Turing NLG 530B, A Large-Scale Generative Language Model",
        "Quantum theory, the Church–Turing principle and the universal quantum computer",
    ]
    assert len(papers) == 5
    assert all(p.source == "semantic_scholar" and len(p.paper_id) == 40 for p in papers)
    req = s2_replay.requests_to("/paper/search")[0]
    assert req.params["limit"] == "5"
    assert "abstract" in req.params["fields"]
    assert s2_replay.unmatched == []


def test_empty_search_is_an_empty_list(s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path) -> None:
    assert backend(s2_settings, tmp_path).search("n0 r3sult s3arch t3rm") == []
    assert s2_replay.unmatched == []


def test_paper_details_with_abstract_authors_and_bibtex(
    s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path
) -> None:
    paper = backend(s2_settings, tmp_path).get(TURING_ID)
    assert paper is not None
    assert paper.title == "Computing Machinery and Intelligence"
    assert paper.year == 1950 and paper.authors == ["A. Turing"]
    assert paper.abstract and paper.abstract.startswith("I propose to consider the question")
    assert paper.bibtex and paper.bibtex.startswith("@Article{Turing1950ComputingMA")


def test_doi_lookup_uses_the_recorded_answer(s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path) -> None:
    paper = backend(s2_settings, tmp_path).get("DOI:10.1063/1.4938384")
    assert paper is not None and paper.year == 2015
    assert paper.authors == ["Michael Skarlinski", "D. Quesnel"]


def test_unknown_paper_is_none_not_an_error(s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path) -> None:
    b = backend(s2_settings, tmp_path)
    assert b.get("0") is None  # the recorded 404 {"error": "Paper with id 0 not found"}
    assert b.get("not an id; DROP TABLE") is None  # never sent
    assert len(s2_replay.requests_to("/paper/")) == 1
    assert b.down_reason is None


def test_403_marks_the_backend_down_without_retrying(
    s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path
) -> None:
    s2_replay.fail(403, body='{"message":"Forbidden"}')
    b = backend(s2_settings, tmp_path)
    with pytest.raises(LiteratureUnavailable, match="403"):
        b.search("turing")
    with pytest.raises(LiteratureUnavailable):  # stays down: no second request
        b.get(TURING_ID)
    assert len(s2_replay.requests) == 1


def test_429_is_retried_with_backoff_then_answers(s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path) -> None:
    s2_replay.fail(429, times=2)
    waits: list[float] = []
    cfg = s2_settings.literature.model_copy(update={"backoff_base_s": 0.5, "backoff_max_s": 0.75})
    b = SemanticScholarBackend(cfg, tmp_path / "cache", sleep=waits.append)
    papers = b.search("kubernetes", limit=3)
    assert papers[0].title == "Security Misconfigurations in Open Source Kubernetes Manifests: An Empirical Study"
    assert [r.status for r in s2_replay.requests] == [429, 429, 200]
    assert waits == [0.5, 0.75]  # exponential, capped


def test_429_past_the_retry_bound_gives_up(s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path) -> None:
    s2_replay.fail(429, times=10)
    b = backend(s2_settings, tmp_path, max_retries=2)
    with pytest.raises(LiteratureUnavailable, match=r"after 3 attempt.*429"):
        b.search("turing")
    assert len(s2_replay.requests) == 3


def test_a_stalled_server_times_out_instead_of_hanging(
    s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path
) -> None:
    s2_replay.stall(30, times=5)
    b = backend(s2_settings, tmp_path, timeout_s=0.3, max_retries=1)
    start = time.monotonic()
    with pytest.raises(LiteratureUnavailable, match="timed out"):
        b.search("turing")
    assert time.monotonic() - start < 5


def test_api_key_from_the_environment_is_sent(
    s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S2_API_KEY", "test-key-123")
    backend(s2_settings, tmp_path).search("turing", limit=2)
    assert s2_replay.requests[0].headers.get("x-api-key") == "test-key-123"
    monkeypatch.delenv("S2_API_KEY")
    backend(s2_settings, tmp_path / "other").search("turing", limit=2)
    assert "x-api-key" not in s2_replay.requests[1].headers


def test_answers_are_cached_on_disk(s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path) -> None:
    first = backend(s2_settings, tmp_path).search("turing", limit=3)
    again = backend(s2_settings, tmp_path).search("turing", limit=3)  # a new process would see the same files
    assert again == first
    assert len(s2_replay.requests) == 1
    assert backend(s2_settings, tmp_path, cache_ttl_days=0).search("turing", limit=3) == first
    assert len(s2_replay.requests) == 2


def test_requests_are_spaced_by_the_rate_limit(s2_replay: S2Replay, s2_settings: Settings, tmp_path: Path) -> None:
    waits: list[float] = []
    cfg = s2_settings.literature.model_copy(update={"min_interval_s": 5.0})
    b = SemanticScholarBackend(cfg, tmp_path / "cache", sleep=waits.append)
    b.search("turing", limit=2)
    b.search("kubernetes", limit=2)
    assert len(waits) == 1 and 4.0 < waits[0] <= 5.0


def test_unreachable_server_falls_back_to_the_local_library_once(
    s2_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pdf = shared_data("pdfs", "ai_scientist_fewshot", "attention.pdf")
    lib = tmp_path / "library"
    lib.mkdir()
    shutil.copy(pdf, lib / "attention.pdf")
    (lib / "refs.bib").write_text(
        "@inproceedings{he2016deep, title={Deep Residual Learning for Image Recognition}, "
        "author={He, Kaiming and Zhang, Xiangyu}, booktitle={CVPR}, year={2016}}\n",
        encoding="utf-8",
    )
    dead = S2Replay(shared_data("semantic_scholar")).start()
    dead_url = dead.api_url
    dead.stop()  # nothing listens on this port any more
    cfg = s2_settings.literature.model_copy(update={"api_url": dead_url, "max_retries": 1, "local_library": lib})
    settings = s2_settings.model_copy(update={"literature": cfg})
    lit = make_literature(settings, tmp_path / "cache")
    assert isinstance(lit, FallbackLiterature) and lit.active == "semantic_scholar"
    papers = lit.search("attention transformer", limit=2)
    assert papers[0].title == "Attention is All you Need" and papers[0].source == "local"
    lit.search("residual networks", limit=2)
    assert lit.active == "local" and lit.consulted == ["local"]
    assert len(lit.notices) == 1 and "continuing with the local library" in lit.notices[0]
    assert sum("unavailable" in r.message for r in caplog.records) == 1
    assert lit.get(papers[0].paper_id) == papers[0]
    assert lit.get(TURING_ID) is None  # an S2 id cannot be answered any more; no error


def test_no_sources_configured_says_so(llm_settings: Settings, tmp_path: Path) -> None:
    cfg = llm_settings.literature.model_copy(update={"semantic_scholar": False})
    lit = make_literature(llm_settings.model_copy(update={"literature": cfg}), tmp_path)
    assert lit.search("anything") == [] and lit.active == "none"
    assert "no literature source configured" in lit.notices[0]
