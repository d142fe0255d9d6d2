"""Tests for the Telegram-facing production parts: update ledger, limits, health, metrics."""
