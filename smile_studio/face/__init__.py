"""Photo pipeline: detect, align, parse, paste back."""
