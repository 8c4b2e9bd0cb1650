"""`harness compare`: boot a base and a patched kernel N times each and say what changed."""
