"""Benchmarks of Liên Thông on the real stack (``make bench``); never part of the test suite."""
