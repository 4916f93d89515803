"""Rule language, pack schema, compilers (durable_rules, pandas), packs and golden cases."""
