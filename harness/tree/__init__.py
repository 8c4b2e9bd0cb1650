"""Tree: the base, a throwaway worktree per slot, the series applied patch by patch (with rejects),
and mtimes kept so make stays incremental.
"""
