"""The composition root: the `certwatch` command and the embedded local stack. Imports every service."""
