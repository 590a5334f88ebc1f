"""Who may do what: API tokens, the audit log of admin actions, idempotent replays."""
