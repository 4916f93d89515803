"""The modules of the delivery chain; each has the same skeleton."""
