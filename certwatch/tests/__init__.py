"""Tests of the composition root: the local stack and its sinks."""
