"""Write the standard MNIST-1D set that ships with reslib (`reslib.data.SHIPPED_MNIST1D`).

    python -m tools.mnist1d_file

Run it after changing the mnist1d pin (and `reslib.data._SHIPPED_VERSION`) in pyproject.toml; the
shipped file is the generator's output, as float32 signals and int64 labels, in NumPy's `.npz` (no
pickle). tests/test_data_cache.py fails while the file and a fresh generation differ.
"""

from __future__ import annotations

import numpy as np

from reslib import data as rd


def standard_arrays() -> dict[str, np.ndarray]:
    """The standard set as the installed mnist1d generates it, in the dtypes the file keeps."""
    x, y, x_test, y_test = rd._generate_mnist1d(*rd.STANDARD_MNIST1D)
    return {
        "x": x.astype(np.float32),  # what reslib.data.mnist1d's tensors hold
        "y": y.astype(np.int64),
        "x_test": x_test.astype(np.float32),
        "y_test": y_test.astype(np.int64),
    }


def main() -> None:
    rd.SHIPPED_MNIST1D.parent.mkdir(exist_ok=True)
    np.savez_compressed(rd.SHIPPED_MNIST1D, **standard_arrays())
    print(f"wrote {rd.SHIPPED_MNIST1D} ({rd.SHIPPED_MNIST1D.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
