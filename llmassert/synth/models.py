"""Typed values that flow through synthesis: Criterion -> Candidate.

``history`` produces ``Delta``s; categorization turns each into a ``Criterion``; the rule library
and the LLM generator turn criteria into ``Candidate``s; evaluation builds the matrix that
``llmassert.select`` solves.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Category(StrEnum):
    """SPADE's taxonomy of prompt deltas."""

    PRESENTATION_FORMAT = "PresentationFormat"
    EXAMPLE_DEMONSTRATION = "ExampleDemonstration"
    PROMPT_REPHRASING = "PromptRephrasing"
    WORKFLOW_DESCRIPTION = "WorkflowDescription"
    DATA_PLACEHOLDERS = "DataPlaceholders"
    COUNT = "Count"
    INCLUSION = "Inclusion"
    EXCLUSION = "Exclusion"
    QUALITATIVE_ASSESSMENT = "QualitativeAssessment"

    @property
    def yields_assertions(self) -> bool:
        """Rephrasings and placeholder edits carry no checkable requirement."""
        return self not in (Category.PROMPT_REPHRASING, Category.DATA_PLACEHOLDERS)


class Criterion(BaseModel):
    """One added or changed instruction in the prompt history."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str  # stable: derived from prompt name, version and text
    prompt: str  # prompt name
    version: int  # 1-based index of the version that introduced it
    text: str  # the sentence
    context: str = ""  # surrounding sentences, for the LLM
    category: Category
    # Placeholder names mentioned in the prompt ({var} / {{ var }}), available in `example`.
    variables: tuple[str, ...] = ()
    # The git commit of ``version`` when the history came from git.
    sha: str | None = None


CandidateKind = Literal["deterministic", "llm_judge"]


class Candidate(BaseModel):
    """A candidate assertion: Python source defining ``def <name>(example, response) -> bool``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # a valid Python identifier, unique within a prompt
    criterion_id: str
    kind: CandidateKind
    code: str  # the full function source
    description: str = ""  # one line: what it checks
    source: Literal["rules", "llm", "user"] = "rules"
    # For kind == "llm_judge": the one yes/no question asked about the response. The code then is
    # ``return llm_judge(QUESTION, example, response)`` (llmassert.assertions.judge).
    judge_question: str | None = None
    # Relative evaluation cost, used for deterministic tie-breaking (judges cost more).
    cost: float = Field(1.0, ge=0)
