"""The child RPC, version 1: frame codec → sessions (see docs/protocol.md)."""
