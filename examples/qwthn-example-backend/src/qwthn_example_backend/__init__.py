"""An example third-party qwthn backend (see README.md)."""
