"""Analysis of an eprunner results file (HDF5, docs/results-format.md).

The package reads the file with h5py and never imports or runs project code. Run it
from the repository root (or with the root on PYTHONPATH):

    python -m analysis.tables results.h5 [--format md|latex|both]   # the paper's Tables 1 and 2
    python -m analysis.plots results.h5 --out DIR                   # the figures
    python -m analysis.report results.h5 [--split validation]       # `eprunner report`'s table

Modules: results (the loader, ResultsError), stats (McNemar's exact test), text (how
numbers and tables are printed), report (the accuracy-by-p table shared with
`eprunner report`), tables, plots. Library functions raise; only each module's main()
prints an error and exits non-zero. Details: docs/analysis.md.
"""
