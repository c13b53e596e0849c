"""Helpers the tests share: test data, fakes, in-process and real servers, and what they hold.

Tests and conftest.py files import from here, never from each other; benchmarks use
processes.py too.
"""
