"""Progress rollups: the rules (status to score, formulas) and the queries that aggregate them."""
