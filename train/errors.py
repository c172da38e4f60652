"""The two ways a training run stops on purpose, shared by every stage and the command line.

`SetupError` is whatever the user can fix (a setting, a data file, a model directory, a checkpoint to
resume from): its message names what, where and what to do, and `python -m train` prints it as one
line. `TrainingDiverged` is the run itself going wrong (NaN/inf), after the last good checkpoint.
"""

from __future__ import annotations


class SetupError(ValueError):
    """Something given to the trainer cannot be used; the message says what, where and what to do."""


class TrainingDiverged(RuntimeError):
    """The loss or gradient norm became NaN/inf: the run stops and keeps its last good checkpoint."""
