"""Tests for the case queue, claims and sealed routes."""
