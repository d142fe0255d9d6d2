"""The fixed intent taxonomy (ARCHITECTURE.md): content, training data and evaluation use these."""

from __future__ import annotations

CONVERSATION = (
    "greet",
    "goodbye",
    "thanks",
    "bot_challenge",
    "menu_help",
    "talk_to_counsellor",
    "find_service",
    "out_of_scope",
)
HIV = ("hiv_basics", "hiv_testing", "hiv_prep", "hiv_pep", "hiv_treatment")
SRH = (
    "condoms",
    "contraception",
    "emergency_contraception",
    "pregnancy",
    "sti",
    "menstruation",
    "consent_relationships",
)
GBV = ("gbv_support", "sexual_violence")
MENTAL_HEALTH = ("depression", "anxiety_stress", "suicidal_thoughts", "self_harm", "substance_use")

TOPIC_INTENTS = HIV + SRH + GBV + MENTAL_HEALTH
ALL_INTENTS = CONVERSATION + TOPIC_INTENTS
