"""The plan's structure: finding deliverables, plan files in and out, the bundled plan,
the activity feed."""
