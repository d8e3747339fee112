"""The notebooks in notebooks/: committed without outputs, and they run on the demo data."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = {"national_overview.ipynb", "commune_review.ipynb", "matching_explained.ipynb"}


def test_the_three_notebooks_are_there():
    assert {p.name for p in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    """Outputs may hold personal data (the review list, a subject's identity): never in git."""
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    dirty = [
        i
        for i, cell in enumerate(book.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert dirty == [], f"{path.name}: cells {dirty} have outputs; clear them before committing"


def test_notebooks_use_the_projects_code_and_the_warehouse_variable():
    for path in NOTEBOOKS:
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert "from vaxclean.spark import get_spark" in source, path.name
        assert "VAXCLEAN_WAREHOUSE" in source, path.name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_on_the_demo_warehouse(name, demo_warehouse):
    """Executed top to bottom in a fresh kernel (its own Spark session) against the demo tables."""
    from nbclient import NotebookClient

    book = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    # The kernel must start its own Spark, not attach to this process's gateway.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_GATEWAY")}
    env["VAXCLEAN_WAREHOUSE"] = demo_warehouse.warehouse
    env["VAXCLEAN_CONFIG"] = str(ROOT / "tests" / "conf" / "short-process.yaml")  # sample-sized data
    client = NotebookClient(
        book, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}
    )
    client.execute(env=env)  # raises CellExecutionError with the failing cell
    text = "\n".join(
        o.get("text", "") for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "warehouse: " + demo_warehouse.warehouse in text
    if name == "national_overview.ipynb":
        images = [o for c in book.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert len(images) == 3
        assert "People needing review" in text
    elif name == "commune_review.ipynb":
        assert "people to review" in text
    else:
        assert "candidates" in text and "threshold:" in text
