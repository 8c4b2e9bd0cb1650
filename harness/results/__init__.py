"""Results: JUnit and the run directory, the base comparison, and re-parsing a saved console log."""
