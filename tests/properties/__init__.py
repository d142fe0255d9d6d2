"""Property-based tests: the engine under hostile input (hypothesis)."""
