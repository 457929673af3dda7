"""The kernel nbgrader grades a submission in: ipykernel under a memory limit.

    python tools/grading_kernel.py MEMORY_MIB -f CONNECTION_FILE

`tools/course.py` writes the kernelspec that starts it, and the course's `nbgrader_config.py`
names that kernel, so every submission runs in a fresh one of these. Before any of the
submission's code runs, the process's data segment (`RLIMIT_DATA`: heap and anonymous mappings,
which is what tensors and lists take) is capped at MEMORY_MIB, soft and hard: the submission
cannot raise it again. An allocation past the cap fails inside the cell (`MemoryError`, or torch's
"can't allocate memory") instead of the machine's OOM killer ending the kernel or the batch, and
the cell scores nothing. nbgrader's `Execute.timeout` limits each cell's time.
"""

from __future__ import annotations

import resource
import sys


def limit_memory(mib: int) -> None:
    """Cap this process's data segment at `mib` MiB, soft and hard (Linux; elsewhere a no-op)."""
    if not hasattr(resource, "RLIMIT_DATA"):
        return
    limit = mib * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def main(argv: list[str]) -> None:
    if len(argv) < 1 or not argv[0].isdigit() or int(argv[0]) < 256:
        raise SystemExit("usage: python tools/grading_kernel.py MEMORY_MIB (>= 256) -f CONNECTION_FILE")
    limit_memory(int(argv[0]))
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
