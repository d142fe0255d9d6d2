"""Curated content: schema, loading, rendering and validation of the files in `content/`."""
