"""Programme membership, payee lists, bank accounts, low-income certificates (issue 5)."""
