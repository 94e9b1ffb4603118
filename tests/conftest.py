"""Fixtures shared by all tests."""

import pytest

from synthetic import synthetic_traffic


@pytest.fixture(scope="module")
def traffic():
    """(X, labels, categories) of synthetic traffic; see tests/synthetic.py."""
    return synthetic_traffic()
