"""The registry simulator over real HTTP, against a synthetic population in a temporary SQLite database."""
