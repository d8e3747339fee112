from __future__ import annotations

import pytest

from vaxclean.errors import DeltaJarsMissing
from vaxclean.jars import find_delta_jars


def test_session_has_delta(spark, tmp_path):
    path = str(tmp_path / "t")
    spark.range(3).write.format("delta").save(path)
    assert spark.read.format("delta").load(path).count() == 3


def test_missing_jars_is_one_clear_sentence(tmp_path):
    with pytest.raises(DeltaJarsMissing, match=r"run `vaxclean setup` once"):
        find_delta_jars(tmp_path / "empty")
