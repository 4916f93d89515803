"""Staff sign-in, roles and permissions, area scoping, API tokens."""
