"""How publish talks to servers: verified TLS, and clear text only on this host.

Input: a host and the user's --insecure / --ca-file. Output: an ssl.SSLContext that
verifies the certificate and the host name (the system's CAs, or only the given CA
file), and the one rule for clear text: loopback, or --insecure. Errors raised: none.
"""

from __future__ import annotations

import ipaddress
import ssl


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: clear text there never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def clear_text_allowed(host: str, insecure: bool) -> bool:
    return insecure or is_loopback(host)


def context(ca_file: str = "") -> ssl.SSLContext:
    """A client context that checks the chain and the host name; with `ca_file`, that
    file's CAs instead of the system's (a private CA, a test server)."""
    return ssl.create_default_context(cafile=ca_file or None)
