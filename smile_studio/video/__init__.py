"""Video: reading and writing clips (PyAV), and smoothing landmarks over time."""
