"""Evaluation sets for the matcher that its authors did not shape (issue 11 item 5).

`real`: real registered company names (bench/data/, sources in bench/data/README.md), with variants and
look-alikes made by rules written independently of `certwatch.demo.evalset`'s generator.
"""
