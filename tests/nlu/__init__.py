"""Tests for nlu."""
