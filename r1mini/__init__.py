"""r1mini: a minimal, from-scratch, educational implementation of DeepSeek-R1 (arXiv 2501.12948).

Start with docs/paper_map.md: it maps each paper section to the file that implements it.
"""

__version__ = "0.1.0"
