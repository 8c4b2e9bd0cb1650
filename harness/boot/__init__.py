"""Boot: the KVM probe, virtme-ng runs of the built kernel, and the console scanned for panics,
oopses and hangs.
"""
