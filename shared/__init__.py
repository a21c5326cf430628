"""What every service shares. Importing it puts the guard against stale compiled modules in place
(shared/compiled.py), ahead of the first import of one of them."""

from shared.compiled import install_guard

install_guard()
