"""Plan coverage checks (``planpulse check``): rules over a plan, their configuration, and
the report in text, JSON, JUnit XML or GitHub annotations.

The engine (config, rules, engine, output) is plain Python over a :class:`PlanInput`, so a
plan file, a stored mandate and the HTTP endpoint give the same findings. Only
``stored.py`` touches the database and only ``client.py`` the network.
"""
