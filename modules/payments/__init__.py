"""Payrolls, checks, approvals, bank files, reconciliation, fund requests (issue 5)."""
