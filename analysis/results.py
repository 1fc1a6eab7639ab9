"""Read an eprunner results file (HDF5) into plain Python objects.

The layout is the one runner/results_h5.cpp writes (docs/results-format.md):

    /                      attrs: format = "eprunner-results", format_version, grid, ... (provenance)
    /cells/<model>__<task> attrs: index, name, model, task, fingerprint, status ("done"|"error"),
                                  error, ran_on, run, examples, written_at
        examples/          test_ids, test_targets, validation_ids, validation_targets  (int64 [n])
        base/{test,validation}         attrs: metric, accuracy, macro_f1 (newer files), loss, n;
                                       datasets predicted, correct
        pruned/<i>/        attrs: p, n_frozen   (i = 0, 1, ... in ascending p)
            {test,validation}          as base
            masks/<matrix>             uint8 [L, B, R], 1 = frozen
        p                  float64 [number of p]
        scores/<matrix>/   delta_loss, singular_values (float32 [L, B, R]),
                           activation_mean (float32 [L, P, I]), position_count (int64 [P])
        finetune_loss      float32 [steps]
        timings/           attrs: seconds per stage

Empty arrays are not written at all (a task without a validation split has a
validation group with n = 0 and no datasets). Only h5py and numpy are needed; this
module never imports project code.

A file that cannot be read as a results file raises ResultsError (it names the file
and what is wrong); the command-line entry points turn that into one line on stderr.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional

try:
    import h5py
    import numpy as np
except ImportError as e:  # e.g. a pyenv/venv python3 first in PATH, without Debian's packages
    raise ImportError(f"{e}: this python ({sys.executable}) lacks h5py/numpy; install python3-h5py "
                      f"python3-numpy, or run with /usr/bin/python3") from e

FORMAT = "eprunner-results"
FORMAT_VERSION = 2  # 2: fixed-length strings and per-cell checksums; 1 reads the same


class ResultsError(Exception):
    """A file that cannot be read as an eprunner results file."""

    def __init__(self, path: str, what: str):
        super().__init__(f"{path}: {what}")
        self.path = path
        self.what = what


def _text(value) -> str:
    """An attribute as str: h5py gives str for variable-length strings, bytes for fixed ones."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return str(value)


def _attr_str(obj, name: str, fallback: str = "") -> str:
    return _text(obj.attrs[name]) if name in obj.attrs else fallback


def _attr_int(obj, name: str, fallback: int = 0) -> int:
    return int(obj.attrs[name]) if name in obj.attrs else fallback


def _attr_float(obj, name: str, fallback: float = math.nan) -> float:
    return float(obj.attrs[name]) if name in obj.attrs else fallback


def _dataset(group, name: str) -> Optional[np.ndarray]:
    return group[name][()] if name in group else None


@dataclass
class Split:
    """One model state on one split (base, or the model pruned at one p)."""
    metric: str = ""
    accuracy: float = math.nan  # fraction in [0, 1]
    macro_f1: float = math.nan  # classification tasks (CB): lm-evaluation-harness's macro F1; NaN otherwise
    loss: float = math.nan
    n: int = 0
    predicted: Optional[np.ndarray] = None  # int64 [n]: token id (full-vocab) or choice index (choices)
    correct: Optional[np.ndarray] = None    # uint8 [n]: 1 = right

    @property
    def measured(self) -> bool:
        return self.n > 0 and not math.isnan(self.accuracy)

    @property
    def measured_accuracy(self) -> Optional[float]:
        """accuracy, or None where the split was not measured."""
        return self.accuracy if self.measured else None

    @property
    def measured_macro_f1(self) -> Optional[float]:
        """macro_f1, or None where not measured, not a classification task, or an older file."""
        return self.macro_f1 if self.measured and math.isfinite(self.macro_f1) else None


@dataclass
class Pruned:
    p: float
    n_frozen: int
    test: Split
    validation: Split
    masks: Dict[str, np.ndarray] = field(default_factory=dict)  # matrix -> uint8 [L, B, R]


@dataclass
class Method:
    """A comparison evaluated in the same cell (docs/methods.md): "highest" or "random"
    (fraction = p, the grid's freeze of int(N·p) other components) or "laser" (fraction =
    rho, the rank kept; `matrix` at `layers` replaced by its rank-k approximation)."""
    method: str
    fraction: float
    seed: int
    matrix: str
    layers: List[int]
    n_removed: int
    test: Split
    validation: Split
    masks: Dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Scores:
    delta_loss: Optional[np.ndarray] = None        # float32 [L, B, R]
    singular_values: Optional[np.ndarray] = None   # float32 [L, B, R], descending in a block
    activation_mean: Optional[np.ndarray] = None   # float32 [L, P, I]
    position_count: Optional[np.ndarray] = None    # int64 [P]


@dataclass
class Cell:
    index: int
    name: str
    model: str
    task: str
    fingerprint: str
    status: str
    error: str
    ran_on: str = ""
    examples: int = 0
    test_ids: Optional[np.ndarray] = None
    test_targets: Optional[np.ndarray] = None
    validation_ids: Optional[np.ndarray] = None
    validation_targets: Optional[np.ndarray] = None
    base_test: Split = field(default_factory=Split)
    base_validation: Split = field(default_factory=Split)
    pruned: List[Pruned] = field(default_factory=list)  # ascending p
    scores: Dict[str, Scores] = field(default_factory=dict)
    finetune_loss: Optional[np.ndarray] = None
    timings: Dict[str, float] = field(default_factory=dict)
    methods: List[Method] = field(default_factory=list)  # [controls] and [laser], in the file's order

    @property
    def done(self) -> bool:
        return self.status == "done"

    def base(self, split: str) -> Split:
        return self.base_test if split == "test" else self.base_validation

    @property
    def ps(self) -> List[float]:
        return [r.p for r in self.pruned]


@dataclass
class Results:
    path: str
    attrs: Dict[str, object]  # root attributes (provenance of the latest run)
    cells: List[Cell]         # in index order

    @property
    def done(self) -> List[Cell]:
        return [c for c in self.cells if c.done]

    @property
    def failed(self) -> List[Cell]:
        return [c for c in self.cells if not c.done]

    def models(self) -> List[str]:
        return list(dict.fromkeys(c.model for c in self.cells))

    def tasks(self) -> List[str]:
        return list(dict.fromkeys(c.task for c in self.cells))

    def ps(self) -> List[float]:
        return sorted({r.p for c in self.cells for r in c.pruned})


def _read_split(parent, name: str, per_example: bool) -> Split:
    if name not in parent:
        return Split()
    g = parent[name]
    s = Split(metric=_attr_str(g, "metric"), accuracy=_attr_float(g, "accuracy"),
              macro_f1=_attr_float(g, "macro_f1"), loss=_attr_float(g, "loss"), n=_attr_int(g, "n"))
    if per_example:
        s.predicted = _dataset(g, "predicted")
        s.correct = _dataset(g, "correct")
    return s


def read_cell(g, per_example: bool = True, masks: bool = False, scores: bool = False,
              activations: bool = False) -> Cell:
    """One /cells/<name> group. per_example: predicted/correct and example ids;
    masks: the frozen masks per p; scores: ΔL and singular values (activations: also
    the activation means, the biggest arrays of a file)."""
    c = Cell(index=_attr_int(g, "index"), name=_attr_str(g, "name"), model=_attr_str(g, "model"),
             task=_attr_str(g, "task"), fingerprint=_attr_str(g, "fingerprint"), status=_attr_str(g, "status"),
             error=_attr_str(g, "error"), ran_on=_attr_str(g, "ran_on"), examples=_attr_int(g, "examples"))
    if per_example and "examples" in g:
        ex = g["examples"]
        c.test_ids = _dataset(ex, "test_ids")
        c.test_targets = _dataset(ex, "test_targets")
        c.validation_ids = _dataset(ex, "validation_ids")
        c.validation_targets = _dataset(ex, "validation_targets")
    if "base" in g:
        c.base_test = _read_split(g["base"], "test", per_example)
        c.base_validation = _read_split(g["base"], "validation", per_example)
    if "pruned" in g:
        # Groups are named 0, 1, ...: sort numerically ("10" sorts before "2" by name).
        for key in sorted(g["pruned"].keys(), key=int):
            r = g["pruned"][key]
            pr = Pruned(p=_attr_float(r, "p", 0.0), n_frozen=_attr_int(r, "n_frozen"),
                        test=_read_split(r, "test", per_example), validation=_read_split(r, "validation", per_example))
            if masks and "masks" in r:
                pr.masks = {m: r["masks"][m][()] for m in r["masks"].keys()}
            c.pruned.append(pr)
        c.pruned.sort(key=lambda r: r.p)
    if "methods" in g:
        for key in sorted(g["methods"].keys(), key=int):
            r = g["methods"][key]
            layers = _dataset(r, "layers")
            m = Method(method=_attr_str(r, "method"), fraction=_attr_float(r, "fraction", 0.0),
                       seed=_attr_int(r, "seed"), matrix=_attr_str(r, "matrix"),
                       layers=[] if layers is None else [int(x) for x in layers], n_removed=_attr_int(r, "n_removed"),
                       test=_read_split(r, "test", per_example), validation=_read_split(r, "validation", per_example))
            if masks and "masks" in r:
                m.masks = {k: r["masks"][k][()] for k in r["masks"].keys()}
            c.methods.append(m)
    if scores and "scores" in g:
        for m in g["scores"].keys():
            sg = g["scores"][m]
            c.scores[m] = Scores(delta_loss=_dataset(sg, "delta_loss"),
                                 singular_values=_dataset(sg, "singular_values"),
                                 activation_mean=_dataset(sg, "activation_mean") if activations else None,
                                 position_count=_dataset(sg, "position_count"))
    c.finetune_loss = _dataset(g, "finetune_loss")
    if "timings" in g:
        c.timings = {k: float(v) for k, v in g["timings"].attrs.items()}
    return c


def _journal_entries(path: str) -> List[str]:
    """The journal a running (or crashed) writer keeps beside the file
    (docs/results-format.md): <path>.journal/<10 digits>.h5, in order."""
    folder = path + ".journal"
    if not os.path.isdir(folder):
        return []
    names = sorted(n for n in os.listdir(folder) if len(n) == 13 and n.endswith(".h5") and n[:10].isdigit())
    return [os.path.join(folder, n) for n in names]


def _open(path: str, shown: str):
    try:
        f = h5py.File(path, "r")
    except OSError as e:  # missing, unreadable, not HDF5
        raise ResultsError(shown, f"cannot open as an HDF5 file: {e}") from e
    fmt = _attr_str(f, "format")
    if fmt != FORMAT:
        f.close()
        raise ResultsError(shown, f"not an eprunner results file (no format = \"{FORMAT}\" attribute)")
    version = _attr_int(f, "format_version")
    if version > FORMAT_VERSION:
        f.close()
        raise ResultsError(shown, f"results format version {version} is newer than this package reads "
                                  f"({FORMAT_VERSION})")
    return f


def load(path: str, per_example: bool = True, masks: bool = False, scores: bool = False,
         activations: bool = False) -> Results:
    """Every published cell of a results file and of its journal (a run still writing, or one
    that crashed), in index order. Raises ResultsError when the file cannot be opened, is no
    eprunner results file, is of a newer format version, or has a cell that cannot be read."""
    # The journal's entries first, then the file: an entry folded meanwhile is in the file.
    entries = []
    for e in _journal_entries(path):
        try:
            entries.append(_open(e, e))
        except ResultsError:
            if os.path.exists(e):
                raise
    files = [_open(path, path)] + entries
    try:
        attrs = {k: (_text(v) if isinstance(v, (str, bytes)) else v) for k, v in files[-1].attrs.items()}
        by_name: Dict[str, Cell] = {}
        for f in files:
            if "cells" not in f:
                continue
            for name in f["cells"].keys():
                g = f["cells"][name]
                if "status" not in g.attrs:  # never published without it; skip defensively
                    continue
                try:
                    by_name[name] = read_cell(g, per_example, masks, scores, activations)
                except (KeyError, ValueError, TypeError, OSError) as e:
                    raise ResultsError(f.filename, f"cell '{name}' cannot be read: {e}") from e
        cells = sorted(by_name.values(), key=lambda c: c.index)
        return Results(path=path, attrs=attrs, cells=cells)
    finally:
        for f in files:
            f.close()
