"""A real ``smile-studio serve`` application on 127.0.0.1 (uvicorn in a thread) over the offline engines, shared by
the tests of this folder."""

from __future__ import annotations

import pytest

from smile_studio.engines.exemplar import ExemplarRenderEngine
from smile_studio.engines.offline import OfflineLayoutEngine
from smile_studio.resources import sample_exemplar
from tests.serving import serving

TOKEN = "s3cret-token-for-tests"


class Counting:
    """An engine that counts its calls (to show a refused request computed nothing)."""

    def __init__(self, engine):
        self.engine, self.calls = engine, 0
        self.name, self.description, self.info = engine.name, engine.description, engine.info
        self.large_side = getattr(engine, "large_side", None)

    def edit(self, req):
        self.calls += 1
        return self.engine.edit(req)

    def render(self, req):
        self.calls += 1
        if req.size == 77:
            raise RuntimeError("a bug inside the engine")
        return self.engine.render(req)


@pytest.fixture(scope="module")
def server():
    layout, render = Counting(OfflineLayoutEngine()), Counting(ExemplarRenderEngine(sample=sample_exemplar()))
    with serving(layout, render, TOKEN, max_body=8 * 2**20) as url:
        yield url, layout, render
