"""Budget enforcement before each model call (USD and tokens per run)."""

from __future__ import annotations

from agents.errors import BudgetExceeded
from agents.llm.ledger import Ledger
from agents.settings import Budget, RoleModel


def call_cost(model: RoleModel, tokens_in: int, tokens_out: int) -> float:
    return (tokens_in * model.price_in_per_mtok + tokens_out * model.price_out_per_mtok) / 1_000_000


def estimate_tokens(messages: list[dict]) -> int:
    """A cheap upper-ish estimate of prompt tokens (4 characters a token; images count 1000)."""
    chars = 0
    images = 0
    for msg in messages:
        content = msg.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if part.get("type") == "text":
                    chars += len(part.get("text", ""))
                else:
                    images += 1
        for call in msg.get("tool_calls") or []:
            chars += len(str(call))
    return chars // 4 + 1000 * images + 4 * len(messages)


def check_budget(budget: Budget, ledger: Ledger, model: RoleModel, messages: list[dict], max_tokens: int) -> None:
    """Raise BudgetExceeded when this call, at its worst case, would take the run past its budget."""
    if budget.max_usd is None and budget.max_tokens is None:
        return
    spent = ledger.totals()
    est_in = estimate_tokens(messages)
    if budget.max_tokens is not None and spent.tokens + est_in + max_tokens > budget.max_tokens:
        raise BudgetExceeded(
            f"token budget reached: {spent.tokens:,} of {budget.max_tokens:,} tokens spent and the next call "
            f"may use up to {est_in + max_tokens:,}; raise budget.max_tokens and resume the run",
            spent_usd=spent.cost_usd,
            spent_tokens=spent.tokens,
        )
    if budget.max_usd is not None:
        worst = call_cost(model, est_in, max_tokens)
        if spent.cost_usd + worst > budget.max_usd:
            raise BudgetExceeded(
                f"USD budget reached: ${spent.cost_usd:.4f} of ${budget.max_usd:.2f} spent and the next call may "
                f"cost up to ${worst:.4f}; raise budget.max_usd (or --budget-usd) and resume the run",
                spent_usd=spent.cost_usd,
                spent_tokens=spent.tokens,
            )
