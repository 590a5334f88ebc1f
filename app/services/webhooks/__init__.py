"""Webhooks: subscriptions, the signing of deliveries, the addresses they may reach, and
the worker that fans the change log out to subscriptions and delivers
(docs/webhooks.md)."""
