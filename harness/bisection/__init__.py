"""`harness bisect`: the first bad patch of a series, or the first bad commit of a range."""
