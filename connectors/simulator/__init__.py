"""The registry simulator: serves every source of DESIGN §6 from a synthetic population in its own database."""
