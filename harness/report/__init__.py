"""Reading finished runs back and presenting them: the HTML report, paired comparisons, leaderboards.

Everything here reads only the run directory (see docs/run-directory.md), so a report can be rebuilt
from a run copied off the machine that produced it, years later, without the model or the data.
"""
