"""qbsync benchmarks: ``make bench`` (``python -m bench``), results in ``bench/results/<name>.json``.

Speed is measured here, never asserted in tests. Every benchmark talks to 127.0.0.1 only and is bounded in
time and size.
"""
