"""Benchmark-only code: never imported by the production settings or URLs (STYLE.md)."""
