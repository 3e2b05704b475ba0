"""r1mini: a minimal, from-scratch, educational implementation of DeepSeek-R1 (arXiv 2501.12948).

Start with README.md: its table maps each paper section to the file, the docs page and the tests of it.
"""

__version__ = "0.1.0"
