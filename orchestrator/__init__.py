"""Runs a declarative stage graph through doit: incremental, validated, recorded."""

__version__ = "0.1.0"
