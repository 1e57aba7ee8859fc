"""Qt-free editing model: label schema, label maps, history, document, project files, image I/O."""
