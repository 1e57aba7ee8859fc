"""The PySide6 desktop app: it displays state and turns input into commands on the Qt-free core."""
