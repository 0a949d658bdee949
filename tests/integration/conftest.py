"""Fixtures for the integration tests (Python driving real vmig processes).

Every test here gets `vmlib` configured for the build under test (--build)
and, after it, every process it started killed and its temporary
directories removed (vmlib.cleanup_all()). Which tests need /dev/kvm, and
skip without it: tests/conftest.py.
"""
import pytest

import vmlib as _vmlib


@pytest.fixture(scope="session")
def _vmlib_configured(build_dir):
    _vmlib.configure(build_dir)
    return _vmlib


@pytest.fixture(autouse=True)
def vmlib(_vmlib_configured):
    """vmlib set up for the build under test; cleans up after the test."""
    try:
        yield _vmlib_configured
    finally:
        _vmlib_configured.cleanup_all()

