"""Assertion sets: load assertion modules (sandboxed) and check responses with them."""

from llmassert.assertions.assertion_set import AssertionSet
from llmassert.assertions.loader import Assertion
from llmassert.assertions.results import CheckResult, Failure

__all__ = ["Assertion", "AssertionSet", "CheckResult", "Failure"]
