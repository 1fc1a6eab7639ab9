"""A results file as the CLI tests see it: the file and its journal together.

A running (or killed) eprunner keeps finished cells in `<file>.journal/<seq>.h5` until it
folds them into the file (docs/results-format.md). `open_results(path)` reads both, later
entries winning, and gives back an object used like an `h5py.File` for what the tests read:
`f["cells"]` (name -> group), `f["runs"]`, `f.attrs` (the latest root attributes)."""
import os

import h5py


def text(value):
    """An attribute string: format 2 stores fixed-length strings, which h5py gives as bytes."""
    return value.decode() if isinstance(value, bytes) else str(value)


class ResultsView:
    def __init__(self, path):
        folder = path + ".journal"
        names = sorted(n for n in os.listdir(folder) if len(n) == 13 and n.endswith(".h5")) \
            if os.path.isdir(folder) else []
        entries = []
        for n in names:  # entries first: one folded meanwhile is in the file opened after
            try:
                entries.append(h5py.File(os.path.join(folder, n), "r"))
            except OSError:
                if os.path.exists(os.path.join(folder, n)):
                    raise
        self._files = [h5py.File(path, "r")] + entries
        self._groups = {"cells": {}, "runs": {}}
        for f in self._files:
            for kind, into in self._groups.items():
                if kind in f:
                    into.update(f[kind].items())
        self.attrs = self._files[-1].attrs

    def __getitem__(self, key):
        kind, _, rest = key.partition("/")
        if kind in self._groups:
            return self._groups[kind][rest.split("/")[0]][rest.partition("/")[2] or "."] if rest else self._groups[kind]
        return self._files[0][key]

    def __contains__(self, key):
        return key in self._groups or key in self._files[0]

    def close(self):
        for f in self._files:
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_results(path):
    return ResultsView(path)
