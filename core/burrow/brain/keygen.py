"""Print a new random `BURROW_ENCRYPTION_KEY`: `python -m burrow.brain.keygen`."""

from __future__ import annotations

from burrow.brain.secrets import generate_key

__all__: list[str] = []

if __name__ == "__main__":
    print(generate_key())
