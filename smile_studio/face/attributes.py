"""The attribute state of a face: from the official AttNet classifier when its weights are installed, otherwise
read from the label map (accessory classes and hair geometry). The user can correct it with the toggles."""

from __future__ import annotations

import functools
import logging

import numpy as np

from ..core.labels import attributes_from_vector
from ..weights import checkpoint_path


@functools.lru_cache(maxsize=1)
def _attnet(path: str):
    from ..nets.attributes import AttNet

    net = AttNet()
    net.load_official(path)
    return net.eval()


def read_attributes(photo: np.ndarray | None, labels: np.ndarray) -> dict[str, str]:
    from .geometry import attributes_from_map

    state = attributes_from_map(labels)
    weights = checkpoint_path("attnet")
    if photo is None or not weights.is_file():
        return state
    import torch

    from ..nets.runtime import image_tensor

    x = image_tensor(photo) / 127.5 - 1
    try:
        net = _attnet(str(weights))
    except Exception as exc:  # noqa: BLE001 - an unusable optional file must not block photo editing
        logging.getLogger(__name__).warning("attribute classifier weights unusable, reading the map: %s", exc)
        return state
    with torch.no_grad():
        _, probs = net(x)
    vec = net.one_hot(probs)[0].numpy()
    try:
        return attributes_from_vector(vec)
    except ValueError:
        # both or neither gender bit (the official demo then forces 'Female'): keep the map's reading of gender
        vec[:2] = [1, 0] if state["gender"] == "male" else [0, 1]
        return attributes_from_vector(vec)
