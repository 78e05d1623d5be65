"""Run: scenarios × target — generate → merge → ingest → wait → verify → report."""
