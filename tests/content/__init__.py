"""Tests for content."""
