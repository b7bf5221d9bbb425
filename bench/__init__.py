"""Benchmarks of wsproto against other Python WebSocket stacks (not tests).

``python -m bench run`` creates one virtual environment per contender and
measures the I/O-free cores, end-to-end echo servers and idle memory;
``python -m bench.report RESULTS --docs`` turns the JSON into
docs/performance.md and its chart. ``nox -s bench`` and ``nox -s bench_report``
wrap both. Everything a worker process imports from this package, besides its
adapter, uses the standard library only: workers run in the contenders'
environments, which hold nothing of ours but the code under test.
"""
