"""The package version; image tags and pipeline versions follow it."""
__version__ = "0.1.0"
