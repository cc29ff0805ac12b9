"""The brain: durable long-term memory (datums), short-term memory, and secrets at rest.

The parent owns it; children reach it only through Robot API calls. Providers (where bytes are
stored) sit behind `BrainProvider`, so a shared brain is a new provider, not a rewrite.
"""

from burrow.brain.datums import DEFAULT_LOCK_LIFETIME, Checkout, Datums, datum_key
from burrow.brain.encrypted import EncryptedBrain
from burrow.brain.memory import MemoryBrain
from burrow.brain.provider import BrainError, BrainFactory, BrainProvider, check_config_keys
from burrow.brain.registry import BrainRegistry, RegisterBrain, builtin_registry
from burrow.brain.secrets import (
    ENCRYPTION_KEY_ENV,
    SecretBox,
    SecretError,
    encrypt_secret,
    generate_key,
)
from burrow.brain.shortterm import MemoryKey, MessageContext, ShortTermMemory, memory_key
from burrow.brain.sqlite import SqliteBrain

__all__ = [
    "DEFAULT_LOCK_LIFETIME",
    "ENCRYPTION_KEY_ENV",
    "BrainError",
    "BrainFactory",
    "BrainProvider",
    "BrainRegistry",
    "Checkout",
    "Datums",
    "EncryptedBrain",
    "MemoryBrain",
    "MemoryKey",
    "MessageContext",
    "RegisterBrain",
    "SecretBox",
    "SecretError",
    "ShortTermMemory",
    "SqliteBrain",
    "builtin_registry",
    "check_config_keys",
    "datum_key",
    "encrypt_secret",
    "generate_key",
    "memory_key",
]
