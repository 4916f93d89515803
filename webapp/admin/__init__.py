"""Administration pages: staff accounts and the audit trail."""
