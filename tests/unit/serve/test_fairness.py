"""Four clients rendering at once on one server take turns: at every completed render, no client is more than
one render ahead of another (the engines run one request at a time, first come first served)."""

from __future__ import annotations

import threading
import time

import numpy as np

from smile_studio.core.labelio import colorize
from smile_studio.engines.base import OFFLINE_INFO, RenderRequest
from smile_studio.engines.offline import OfflineLayoutEngine
from smile_studio.engines.remote import remote_engines
from tests.serving import serving


class Slow:
    """A render engine taking 40 ms a render, recording whose render finished when."""

    name, description, info, large_side = "slow", "slow test engine", OFFLINE_INFO, None

    def __init__(self):
        self.order: list[int] = []

    def render(self, req):
        time.sleep(0.04)
        self.order.append(int(req.labels[0, 0]))  # the client's number, painted in the corner
        return colorize(req.labels)


def test_four_clients_take_turns(face_map):
    engine = Slow()
    with serving(OfflineLayoutEngine(), engine) as url:
        def client(k: int) -> None:
            _, remote, _ = remote_engines(url)
            labels = face_map.copy()
            labels[0, 0] = k
            for _ in range(6):
                remote.render(RenderRequest(labels, exact=True))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert sorted(engine.order) == sorted(k for k in range(4) for _ in range(6))
    done = np.zeros(4, int)
    spreads = []
    for k in engine.order[4:-4]:  # once all four are queued, until the first finishes
        done[k] += 1
        spreads.append(int(done.max() - done.min()))
    assert max(spreads) <= 1, engine.order  # round robin: a client is at most one render ahead of another
