"""`harness review`: the whole reply to a posted series, check, test, bisect and compare
composed on one cache."""
