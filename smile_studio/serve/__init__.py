"""``smile-studio serve``: the engines behind an HTTP server, for an editor or a script on another machine."""
