"""The change log: what changed, written in the change's own transaction, and the stream
that reads it back (docs/webhooks.md)."""
