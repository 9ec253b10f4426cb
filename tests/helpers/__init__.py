"""Builders and known-answer data shared by the tests; not a test module.

The builders reach the tests as fixtures (``tests/conftest.py``); the test modules import
from here only what they need at import time (parametrize lists, dataclasses, constants).
"""

#: The reporting date of the shared extracts, tables and known-answer cases (the synthetic
#: extract ends on it).
REPORTING_DATE = "2025-03-31"
