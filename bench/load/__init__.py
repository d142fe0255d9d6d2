"""Load benchmark: many young people at once through the real webhook server."""
