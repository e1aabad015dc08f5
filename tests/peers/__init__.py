"""Programs run by interop peers in their own environments (not by byoc_lab's venv)."""
