"""Payrolls, checks, approvals, bank files, reconciliation, fund requests."""
