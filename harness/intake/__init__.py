"""Intake: the series to test: series.yaml and mboxes, list threads fetched with b4, and the diffs
in each patch.
"""
