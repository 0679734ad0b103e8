"""Model calls from parallel workers overlap up to ``llm.max_concurrency`` per endpoint (the scripted server
answers slowly and counts the requests it holds at once); the embedded server's slots follow the setting."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from agents.llm import LLM
from agents.localmodel.server import get_shared_server
from agents.settings import Settings
from agents.testing import RecordedRequest, Reply, ScriptedServer, text


class _Gauge:
    def __init__(self) -> None:
        self.now = self.peak = 0
        self._mu = threading.Lock()

    def __call__(self, req: RecordedRequest) -> Reply:
        with self._mu:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(0.3)
        with self._mu:
            self.now -= 1
        return text("ok")


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_calls_overlap_up_to_max_concurrency(scripted_llm: ScriptedServer, llm_settings: Settings, limit: int) -> None:
    gauge = _Gauge()
    scripted_llm.always("demo/hello", gauge)
    llm_cfg = llm_settings.llm.model_copy(update={"max_concurrency": limit, "request_timeout_s": 10.0})
    settings = llm_settings.model_copy(update={"llm": llm_cfg})
    llm = LLM(settings)
    t0 = time.monotonic()
    with ThreadPoolExecutor(6) as pool:  # six workers, each on its own node (its own bound view)
        list(pool.map(lambda i: llm.bind(node=str(i)).chat("coder", "demo/hello", {"topic": str(i)}), range(6)))
    wall = time.monotonic() - t0
    assert gauge.peak == limit
    assert wall >= 0.3 * -(-6 // limit) - 0.05  # (6 / limit rounded up) rounds of 0.3 s


def test_the_embedded_servers_slots_follow_max_concurrency(tmp_path: object) -> None:
    s = Settings(llm={"max_concurrency": 3}, embedded={"parallel": 0}, cache_dir=str(tmp_path))
    assert get_shared_server(s)._settings.parallel == 3
    fixed = Settings(llm={"max_concurrency": 3}, embedded={"parallel": 2}, cache_dir=str(tmp_path))
    assert get_shared_server(fixed)._settings.parallel == 2
