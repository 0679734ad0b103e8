"""The worker pool of one stage: keeps ``workers`` nodes in flight, asks for the next job only while the stage's
completion criteria say go on, and stops cleanly on a budget or endpoint failure (in-flight nodes finish first).

Jobs are created by the caller in the main thread (the policy and its RNG live there); a job is ``placed`` once
its node is in the journal, after which the policy sees the node itself instead of the pending action.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from agents.errors import BudgetExceeded, ModelCallError
from agents.experiments.journal import Journal
from agents.experiments.policy import Action
from agents.experiments.stages import Completion


@dataclass
class Job:
    action: Action
    node_id: str
    model: str
    placed: bool = False


def drive(
    journal: Journal,
    workers: int,
    queued: list[Job],
    next_job: Callable[[list[Action]], Job | None],
    completion: Callable[[list[Action]], Completion | None],
    work: Callable[[Job], None],
    note: Callable[[str], None],
) -> Completion | None:
    """Run jobs until none is left; the completion seen last (None: the policy ran out of actions)."""
    futures: dict[Future[None], Job] = {}
    stop: BaseException | None = None
    comp: Completion | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="node") as pool:
        try:
            while True:
                with journal.lock:
                    pending = [j.action for j in futures.values() if not j.placed]
                comp = None if stop else completion(pending)  # may call a model: not under the lock
                with journal.lock:
                    pending = [j.action for j in futures.values() if not j.placed]
                    while stop is None and len(futures) < workers:
                        if queued:  # interrupted nodes always finish, whatever the stage's state
                            job: Job | None = queued.pop(0)
                        else:
                            job = next_job(pending) if comp is None else None
                        if job is None:
                            break
                        futures[pool.submit(work, job)] = job
                        pending = [j.action for j in futures.values() if not j.placed]
                if not futures:
                    if stop is not None:
                        raise stop
                    return comp
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    futures.pop(fut)
                    exc = fut.exception()
                    if isinstance(exc, BudgetExceeded | ModelCallError):
                        stop = stop or exc
                        note(f"stopping after the nodes in flight: {exc}")
                    elif exc is not None:
                        raise exc
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
