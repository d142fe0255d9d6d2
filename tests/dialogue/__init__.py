"""Tests for dialogue."""
