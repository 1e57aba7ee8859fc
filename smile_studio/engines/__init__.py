"""What the app and the CLI call: layout engines (attribute edits) and render engines (map -> image)."""
