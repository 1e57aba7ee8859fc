"""SMILE Studio: a desktop editor for face layouts built on SMILE (ICCVW 2021)."""

__version__ = "0.1.0"
