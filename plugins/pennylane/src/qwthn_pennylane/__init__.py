"""qwthn backend plugin: qwthn circuits on any PennyLane device, one broadcast tape per batch."""

__version__ = "0.1.0"
