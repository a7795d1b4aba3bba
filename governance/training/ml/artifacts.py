"""Weights as safetensors bytes, with a check that nothing identifying a person rides along."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

__all__ = ["IdentifierLeakError", "assert_no_identifiers", "load_weights", "weights_to_bytes"]

_TENSOR_NAME = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)


class IdentifierLeakError(ValueError):
    """Raised when weights or their metadata would carry an id, a pseudonym or a non-float tensor.

    The message names the tensor or metadata key, never the offending value.
    """


def assert_no_identifiers(
    weights: dict[str, np.ndarray], metadata: dict[str, str], *, forbidden: Iterable[str] = ()
) -> None:
    """Check tensor names are plain layer names, tensors are floats, and metadata holds no id or pseudonym.

    ``forbidden`` are strings known to identify people in this dataset (pseudonyms, subject ids); none may
    appear in a tensor name or metadata key or value.
    """
    # deferred: heavy: numpy stays out of web workers
    import numpy as np

    tokens = [t.lower() for t in forbidden if t]
    for name, tensor in weights.items():
        if not _TENSOR_NAME.match(name) or _UUID.search(name) or any(t in name.lower() for t in tokens):
            raise IdentifierLeakError(f"tensor name not allowed in a released model (tensor #{_index(weights, name)})")
        if not np.issubdtype(np.asarray(tensor).dtype, np.floating):
            raise IdentifierLeakError(f"tensor {name} is not a float tensor")
    for key, value in metadata.items():
        text = f"{key} {value}".lower()
        if _UUID.search(text) or any(t in text for t in tokens):
            raise IdentifierLeakError(f"metadata key {key!r} carries an identifier")


def weights_to_bytes(
    weights: dict[str, np.ndarray], *, architecture: dict[str, Any], kind: str, forbidden: Iterable[str] = ()
) -> bytes:
    """Serialize ``weights`` with safetensors; metadata holds only the model kind and architecture."""
    # deferred: heavy: numpy and safetensors stay out of web workers
    import numpy as np
    from safetensors.numpy import save

    metadata = {"kind": kind, "architecture": json.dumps(architecture, sort_keys=True)}
    assert_no_identifiers(weights, metadata, forbidden=forbidden)
    contiguous = {name: np.ascontiguousarray(tensor) for name, tensor in weights.items()}
    return save(contiguous, metadata=metadata)


def load_weights(data: bytes) -> dict[str, np.ndarray]:
    """Inverse of :func:`weights_to_bytes`."""
    # deferred: heavy: safetensors stays out of web workers
    from safetensors.numpy import load

    return load(data)


def _index(weights: dict[str, Any], name: str) -> int:
    return list(weights).index(name)
