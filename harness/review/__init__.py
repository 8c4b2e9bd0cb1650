"""Review: the `check` command's static checks per patch (checkpatch, hygiene, Kconfig, UAPI, mm
flags) and the report of a run directory.
"""
