"""Escalation cases: the counsellors' queue, claims, the relay transcript and sealed routes."""
