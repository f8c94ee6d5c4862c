"""The package version, in one place (``pirsch_middleware.__version__``)."""

VERSION = "0.1.0"
