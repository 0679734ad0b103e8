"""The coder's rules come from the sandbox's real packages and the coder model's strength, not a fixed text."""

from __future__ import annotations

from pathlib import Path

import exp_support as S
import pytest

from agents.data.environment import coder_environment, probe_packages, template_for
from agents.errors import ConfigError
from agents.prompts import render_text
from agents.settings import Settings


def rules(env: dict, data: dict | None = None) -> str:
    return render_text("_partials/coder_environment", {"env": env, "data": data})


def test_probe_lists_what_the_sandbox_python_has() -> None:
    found = probe_packages(S.sandbox())
    assert found is not None and "numpy" in found and "sklearn" in found  # the experiment environment's list
    assert template_for(found) == "scientific"


def test_rules_follow_the_environment_and_the_model_strength(llm_settings: Settings) -> None:
    env = coder_environment(llm_settings, S.sandbox())
    assert env["probed"] and env["strength"] == "large" and env["max_lines"] == 250  # a configured endpoint
    text = rules(env)
    assert "up to about 250 lines" in text and ", ".join(env["packages"]) in text
    assert "Make small synthetic data" in text  # no data: synthetic experiments
    embedded = Settings()  # no base_url: the embedded model, a small one
    small = coder_environment(
        embedded.model_copy(update={"data": embedded.data.model_copy(update={"environment": "stdlib"})})
    )
    assert small["strength"] == "small" and small["max_lines"] == 60
    assert "under 60 lines" in rules(small) and "only the Python standard library" in rules(small)
    assert template_for(["numpy", "matplotlib"]) == "numpy" and template_for(["numpy", "sklearn"]) == "scientific"


def test_unknown_environment_template_is_a_config_error() -> None:
    s = Settings()
    bad = s.model_copy(update={"data": s.data.model_copy(update={"environment": "cuda-magic"})})
    with pytest.raises(ConfigError, match="no template .*environments/cuda-magic.md.j2"):
        coder_environment(bad)


def test_a_small_model_gets_a_loading_example(tmp_path: Path) -> None:
    import data_support as D

    from agents.data.session import check_data
    from agents.data.task import make_task

    D.write_dataset("wine", tmp_path / "wine")
    settings = Settings(cache_dir=tmp_path / "cache")
    task = make_task(data=tmp_path / "wine", goal="g", metric="accuracy", target="target", holdout=0.2)
    session = check_data(task, settings)
    assert session is not None
    env = {"name": "scientific", "packages": ["numpy", "pandas", "sklearn"], "strength": "small", "max_lines": 60,
           "multi_file": False}  # fmt: skip
    text = rules(env, session.prompt())
    assert 'pd.read_csv(os.path.join(data_dir(), "wine.csv"))' in text and 'columns=["target"]' in text
    # the small model's example measures on its own split of the training rows (it reached for y_test otherwise)
    assert "train_test_split(X, y, test_size=0.2, random_state=get_seed())" in text
    assert 'log_metric("val_accuracy", np.mean(model.predict(X_val) == y_val), direction="maximize")' in text
    assert "np.sqrt(mean_squared_error" in text  # scikit-learn >= 1.6 has no squared=False
    # a real model, not a placeholder: the small model copied `model = ...` and called .fit on an Ellipsis
    assert "model = RandomForestClassifier(n_estimators=300, random_state=get_seed())" in text
    assert "model = ..." not in text
    assert "pd.read_csv" not in rules({**env, "strength": "large"}, session.prompt())
