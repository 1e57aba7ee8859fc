"""The tests' server: :func:`smile_studio.serve.local.serving` (uvicorn on 127.0.0.1 for the block)."""

from smile_studio.serve.local import free_port, serving

__all__ = ["free_port", "serving"]
