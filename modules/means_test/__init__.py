"""Data collection per application, assessment, decisions, notices, recertification, simulation (issue 4)."""
