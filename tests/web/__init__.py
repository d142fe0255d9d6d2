"""Tests for the web console."""
