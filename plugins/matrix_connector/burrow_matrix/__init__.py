"""burrowbot-matrix: the Matrix connector (`PrimaryProtocol: matrix`), see docs/matrix.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from burrow.connectors.base import Connector


def _matrix(config: Mapping[str, Any]) -> Connector:
    from burrow_matrix.connector import MatrixConnector

    return MatrixConnector(config)


def register_connectors(register: Any) -> None:
    """Register the `matrix` connector."""
    register("matrix", _matrix)
