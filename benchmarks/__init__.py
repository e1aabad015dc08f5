"""byoc_lab's benchmarks: ``make bench`` (see :mod:`benchmarks.run`). Not part of the package."""
