"""harness: an evaluation harness for reasoning vision-language models.

The public surface is small on purpose: the CLI verbs, the `Sample` / `Generation` / `Verdict`
types in `harness.types`, and the run-directory format documented in the README.
"""

__version__ = "0.1.0"
