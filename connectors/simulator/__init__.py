"""The registry simulator: serves every source in the catalog from a synthetic population in its own database."""
