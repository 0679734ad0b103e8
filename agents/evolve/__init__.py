"""Evolve mode: LLM-driven evolution of the code inside a program's EVOLVE-BLOCKs, scored by a user evaluator.

A second search policy over the experiment manager's parts (sandbox, novelty filter, bandit, patches, ledger),
in the way of ShinkaEvolve: islands, elites, weighted parent selection, novelty rejection, a model bandit and a
meta-scratchpad. ``evolve()`` is the Python API; ``shoal evolve`` the command.
"""

from agents.evolve.api import check_inputs, create_evolve_run, evolve, make_engine
from agents.evolve.engine import EvolveEngine, Outcome

__all__ = ["EvolveEngine", "Outcome", "check_inputs", "create_evolve_run", "evolve", "make_engine"]
