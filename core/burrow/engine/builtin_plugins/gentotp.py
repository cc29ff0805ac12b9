"""`python -m burrow.engine.builtin_plugins.gentotp USER [ISSUER]`: a TOTP secret for USER.

The operator's side of `builtin-totp` (totp.py), as upstream's `gopherbot gentotp`: it prints a
new secret, the `otpauth://` address an authenticator app reads (as a QR code or typed in),
and, with `BURROW_ENCRYPTION_KEY` set, the `encrypted:` form to put in
conf/plugins/builtin-totp.yaml, so the secret in clear never needs to be stored.
"""

from __future__ import annotations

import sys

import pyotp

from burrow.brain import SecretBox, SecretError
from burrow.engine.builtin_plugins.totp import ENCRYPTED, NAME

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """A new TOTP secret for USER, from `python -m burrow.engine.builtin_plugins.gentotp`.

    Prints the secret, the `otpauth://` address an authenticator app reads (as a QR code or
    typed in), and with `BURROW_ENCRYPTION_KEY` set, the `encrypted:` form for the config.
    """
    args = sys.argv[1:] if argv is None else argv
    if not args or not args[0].strip():
        print("usage: python -m burrow.engine.builtin_plugins.gentotp <user> [issuer]")
        return 2
    user, issuer = args[0].strip(), (args[1] if len(args) > 1 else "Burrow")
    secret = pyotp.random_base32()
    print(f"Secret for {user}: {secret}")
    address = pyotp.TOTP(secret).provisioning_uri(name=user, issuer_name=issuer)
    print(f"Authenticator address: {address}")
    try:
        sealed = SecretBox.from_environ().encrypt_secret(secret)
    except SecretError as exc:
        print(f"Not encrypted: {exc}")
    else:
        print(f"For conf/plugins/{NAME}.yaml:")
        print(f'Config:\n  Users:\n  - User: {user}\n    Secret: "{ENCRYPTED}{sealed}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
