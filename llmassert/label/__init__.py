"""Grading responses by hand: a sans-IO session (:mod:`.session`), its next-response strategies
(:mod:`.strategy`), the labels file it writes (:mod:`.store`) and the terminal driver (:mod:`.tui`).
"""

from llmassert.label.session import Item, LabelSession, Status
from llmassert.label.strategy import STRATEGIES, Strategy

__all__ = ["STRATEGIES", "Item", "LabelSession", "Status", "Strategy"]
