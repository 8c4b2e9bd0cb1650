"""Build: Kconfig fragments and their dependencies, make, and the compiler warnings a patch adds."""
