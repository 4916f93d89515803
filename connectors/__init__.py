"""Connectors to external systems: registries, bank, treasury, SMS; the simulator; synthetic data."""
