"""Deliverables' statuses and their history: the status-change pipeline, field edits, the
history queries."""
