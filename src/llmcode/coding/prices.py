"""Model prices: the built-in table with its date and source, and tables read from a file.

A price is USD per million tokens: ``input``, ``output`` and ``cached_input`` (a prompt prefix
the provider has cached: the identical codebook that opens every request), plus the provider's
``batch_discount`` (0.5: the Batch API costs half). The built-in table holds OpenAI's published
prices (``PRICE_DATE``, ``PRICE_SOURCE``); prices change, so a table can be replaced with
``--prices FILE`` (or ``LLMCODE_PRICES``), a YAML or JSON file either flat::

    gpt-4o-mini: {input: 0.15, output: 0.60, cached_input: 0.075, batch_discount: 0.5}

or with its own date and source::

    date: 2026-12-01
    source: https://openai.com/api/pricing
    models:
      gpt-4o-mini: {input: 0.15, output: 0.60, cached_input: 0.075, batch_discount: 0.5}

The file's models replace the built-in ones of the same name (others are kept) and its date and
source become the table's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmcode import environment
from llmcode.errors import ConfigError
from llmcode.taxonomy.model import read_yaml

PRICE_DATE = "2025-08-07"
PRICE_SOURCE = "https://openai.com/api/pricing (standard tier; Batch API: 50% off)"


class Price(BaseModel):
    """USD per million tokens; ``cached_input`` None: no cached-input price known (full price);
    ``batch_discount``: the share taken off in the provider's batch API (0: none known)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    batch_discount: float = Field(default=0.0, ge=0, le=1)

    model_config = ConfigDict(allow_inf_nan=False)  # .nan/.inf would make every cost unknown


PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(input=0.15, output=0.60, cached_input=0.075, batch_discount=0.5),
    "gpt-4o": Price(input=2.50, output=10.00, cached_input=1.25, batch_discount=0.5),
    "gpt-4.1": Price(input=2.00, output=8.00, cached_input=0.50, batch_discount=0.5),
    "gpt-4.1-mini": Price(input=0.40, output=1.60, cached_input=0.10, batch_discount=0.5),
    "gpt-4.1-nano": Price(input=0.10, output=0.40, cached_input=0.025, batch_discount=0.5),
    "gpt-5-mini": Price(input=0.25, output=2.00, cached_input=0.025, batch_discount=0.5),
}


@dataclass
class PriceTable:
    """Prices by model name, with the date they were read and where from."""

    prices: dict[str, Price] = field(default_factory=lambda: dict(PRICES))
    date: str = PRICE_DATE
    source: str = PRICE_SOURCE

    def price(self, model: str) -> Price | None:
        return price_for(model, self.prices)


def load_price_table(path: str | Path | None = None) -> PriceTable:
    """The built-in table, updated from ``path`` (or ``LLMCODE_PRICES``) when given."""
    table = PriceTable()
    chosen = path or environment.prices_path()
    if not chosen:
        return table
    path = Path(chosen)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read price table ({exc})") from exc
    data, _ = read_yaml(text, str(path), ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a price table maps model names to {{input, output}}")
    models = data.get("models") if isinstance(data.get("models"), dict) else None
    if models is not None:
        table.date = str(data.get("date") or "unknown")
        table.source = str(data.get("source") or path)
    else:
        models = data
        table.date, table.source = "unknown", str(path)
    for model, value in models.items():
        try:
            table.prices[str(model)] = Price.model_validate(value)
        except ValidationError as exc:
            raise ConfigError(f"{path}: model '{model}': {exc.errors()[0]['msg']}") from exc
    return table


def load_prices(path: str | Path | None = None) -> dict[str, Price]:
    """The prices of ``load_price_table(path)`` by model name."""
    return load_price_table(path).prices


def price_for(model: str, prices: dict[str, Price]) -> Price | None:
    """Exact model name first, then the longest known prefix (dated snapshots)."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(name)]
    return prices[max(matches, key=len)] if matches else None


def cost_of(prompt_tokens: int, output_tokens: int, price: Price, cached_tokens: int = 0) -> float:
    """USD for these tokens; ``cached_tokens`` of the prompt at the cached-input price."""
    cached = min(cached_tokens, prompt_tokens)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    return (
        (prompt_tokens - cached) * price.input + cached * cached_rate + output_tokens * price.output
    ) / 1_000_000
