"""The 20 structured-output cases of ``bench_embedded.py``: varied pydantic schemas and the prompt inputs for each."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


# -- schemas ---------------------------------------------------------------------------------------------------
class Person(BaseModel):
    name: str = Field(min_length=2)
    age: int = Field(ge=18, le=100)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
    occupation: str


class Idea(BaseModel):
    title: str
    description: str
    score: float = Field(ge=0, le=1)


class Ideas(BaseModel):
    ideas: list[Idea] = Field(min_length=3, max_length=3)


class TrainConfig(BaseModel):
    optimizer: Literal["sgd", "adam", "adamw"]
    learning_rate: float = Field(gt=0, le=1)
    batch_size: int = Field(ge=1, le=4096)
    scheduler: Literal["none", "cosine", "step"]
    epochs: int = Field(ge=1, le=1000)


class Author(BaseModel):
    name: str
    affiliation: str


class Venue(BaseModel):
    name: str
    year: int = Field(ge=1950, le=2030)


class Paper(BaseModel):
    title: str
    authors: list[Author] = Field(min_length=1, max_length=3)
    venue: Venue


class Weather(BaseModel):
    temperature_c: float = Field(ge=-60, le=60)
    humidity_pct: float = Field(ge=0, le=100)
    pressure_hpa: float = Field(ge=870, le=1085)


class Plan(BaseModel):
    hypothesis: str
    steps: list[str] = Field(min_length=3, max_length=5)
    metric: str
    direction: Literal["maximize", "minimize"]


class Review(BaseModel):
    summary: str
    originality: int = Field(ge=1, le=4)
    quality: int = Field(ge=1, le=4)
    clarity: int = Field(ge=1, le=4)
    significance: int = Field(ge=1, le=4)
    overall: int = Field(ge=1, le=10)
    decision: Literal["accept", "reject"]


class Patch(BaseModel):
    file: str
    line: int = Field(ge=1)
    old: str
    new: str
    reason: str


class Sentiment(BaseModel):
    label: Literal["positive", "negative", "neutral"]
    confidence: float = Field(ge=0, le=1)


class Ingredient(BaseModel):
    item: str
    quantity: float = Field(gt=0)
    unit: Literal["g", "ml", "pcs", "tbsp", "tsp"]


class Recipe(BaseModel):
    name: str
    servings: int = Field(ge=1, le=12)
    ingredients: list[Ingredient] = Field(min_length=2, max_length=8)


class CodeCheck(BaseModel):
    is_valid_python: bool
    has_main: bool
    issues: list[str] = Field(max_length=5)


class Event(BaseModel):
    name: str
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    attendees: int = Field(ge=0)


class Hyperparams(BaseModel):
    values: dict[str, float] = Field(min_length=2)


class Metric(BaseModel):
    name: str
    value: float
    higher_is_better: bool


class MetricsReport(BaseModel):
    metrics: list[Metric] = Field(min_length=2, max_length=4)
    best_model: str


class Novelty(BaseModel):
    is_novel: bool
    closest_work: str
    similarity: float = Field(ge=0, le=1)
    justification: str


class Contact(BaseModel):
    name: str
    phone: str | None
    tags: list[str] = Field(max_length=5)


class Ablation(BaseModel):
    component: str
    expected_effect: Literal["up", "down", "none"]


class Ablations(BaseModel):
    ablations: list[Ablation] = Field(min_length=2, max_length=4)


class Arithmetic(BaseModel):
    expression: str
    result: int


class Task(BaseModel):
    name: str
    hours: float = Field(ge=0.5, le=40)


class Milestone(BaseModel):
    title: str
    tasks: list[Task] = Field(min_length=1, max_length=3)


class Project(BaseModel):
    name: str
    milestones: list[Milestone] = Field(min_length=2, max_length=3)


class Issue(BaseModel):
    severity: Literal["low", "medium", "high"]
    text: str


class FigureCritique(BaseModel):
    issues: list[Issue] = Field(max_length=4)
    score: int = Field(ge=1, le=10)
    caption: str = Field(max_length=200)


BUGGY = "def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs) - 1\n"
CASES: list[tuple[str, type[BaseModel], dict[str, Any]]] = [
    ("person", Person, {"subject": "a marine biologist"}),
    ("ideas", Ideas, {"subject": "learning-rate warm-up for small MLPs"}),
    ("train_config", TrainConfig, {"subject": "a ResNet-18 on CIFAR-10"}),
    ("paper", Paper, {"subject": "sparse attention for long documents"}),
    ("weather", Weather, {"subject": "Oslo in January"}),
    ("plan", Plan, {"subject": "label smoothing on MNIST"}),
    ("review", Review, {"text": "We show that a 2-layer MLP with dropout beats logistic regression on Iris."}),
    ("patch", Patch, {"subject": "stats.py", "code": BUGGY}),
    ("sentiment", Sentiment, {"text": "The battery died after two days and support never answered."}),
    ("recipe", Recipe, {"subject": "a quick tomato pasta"}),
    ("code_check", CodeCheck, {"code": "def main():\n    print('hi'\n\nmain()\n"}),
    ("event", Event, {"subject": "reproducibility in machine learning"}),
    ("hyperparams", Hyperparams, {"subject": "gradient-boosted trees on tabular data"}),
    ("metrics", MetricsReport, {"subject": "three sentiment classifiers"}),
    ("novelty", Novelty, {"text": "Use the validation loss slope to decide when to stop training."}),
    ("contact", Contact, {"text": "Met Dana Ruiz at the ICML poster session, works on RL, email only."}),
    ("ablations", Ablations, {"subject": "a transformer with rotary embeddings and gated MLPs"}),
    ("arithmetic", Arithmetic, {"text": "17 * 23 + 4"}),
    ("project", Project, {"subject": "benchmark three optimizers on CIFAR-10"}),
    ("figure", FigureCritique, {"text": "A line plot of loss vs. step, no axis labels, 6 overlapping colours."}),
]
