"""assertions."""
