"""Synthetic national data with ground truth: register, ledger, facility reports (issue 3).

Usage::

    from vaxclean.synth import Options, generate
    manifest = generate(Options(people=2_000, seed=1), "out/synth")

See docs/synthetic-data.md. This package imports neither pyspark nor the config at import time,
so Spark's Python workers can run it with the standard library alone.
"""

from __future__ import annotations

from vaxclean.synth.generate import Options, generate, generate_local
from vaxclean.synth.rates import Rates
from vaxclean.synth.score import score_codes
from vaxclean.synth.truth import TruthRules

__all__ = ["Options", "Rates", "TruthRules", "generate", "generate_local", "score_codes"]
