"""Safety: the crisis check, the safety answers and the words of a crisis conversation."""

from bot.safety.availability import Availability
from bot.safety.service import EXIT_WORDS, SafetyService, load_safety

__all__ = ["EXIT_WORDS", "Availability", "SafetyService", "load_safety"]
