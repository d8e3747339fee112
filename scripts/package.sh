#!/usr/bin/env bash
# Build what a cluster run ships, in one command:
#   dist/vaxclean-<version>-py3-none-any.whl  to install on a cluster image or a packed venv
#   dist/vaxclean-pyfiles.zip                 for spark-submit --py-files
# The zip is cut from the wheel, so both hold exactly the files pyproject.toml declares (the
# vaxclean, jobs and transforms packages plus package data: reference CSVs, log4j2.properties).
# Then the zip is checked the way Spark uses it: imported from the zip alone, reference data read
# through importlib.resources from inside the zip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if [ ! -x "$PY" ]; then
  echo "package: $PY not found; run scripts/setup.sh first (or set PYTHON)" >&2
  exit 2
fi
PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")

mkdir -p dist
# Build into a scratch folder and move the results into dist/ at the end, so a spark-submit that
# starts while this runs never finds a half-written or missing zip.
stage=$(mktemp -d dist/.build.XXXXXX)
trap 'rm -rf "$stage" build' EXIT
# A stale build/ makes setuptools put files that no longer exist in the sources into the wheel.
rm -rf build
# pip builds in an isolated environment with the build backend pyproject.toml names
# (setuptools>=68); the venv's own setuptools is older and has no bdist_wheel.
"$PY" -m pip wheel --no-deps --disable-pip-version-check --quiet --wheel-dir "$stage" . >/dev/null
wheel=$(ls "$stage"/vaxclean-*.whl)

"$PY" - "$wheel" "$stage/vaxclean-pyfiles.zip" <<'PYEOF'
"""Cut the --py-files zip from the wheel and check nothing in the source tree was left out."""
import sys
import zipfile
from pathlib import Path

wheel, target = sys.argv[1], sys.argv[2]
packages = ("vaxclean", "jobs", "transforms")
with zipfile.ZipFile(wheel) as whl:
    names = [n for n in whl.namelist() if n.split("/", 1)[0] in packages]
    # Fixed timestamps and order: the same sources give the same zip.
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for name in sorted(names):
            info = zipfile.ZipInfo(name, date_time=(2021, 3, 8, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, whl.read(name))

# Every module and data file in the three source folders must be in the zip: a package without
# __init__.py or a data file missing from package-data would otherwise fail only on the cluster.
shipped = set(names)
missing = sorted(
    str(p)
    for pkg in packages
    for p in Path(pkg).rglob("*")
    if p.is_file()
    and "__pycache__" not in p.parts
    and p.suffix not in {".pyc", ".md"}
    and not p.name.startswith(".")
    and str(p) not in shipped
)
if missing:
    sys.exit(
        "package: these files are in the sources but not in the wheel (add them to "
        "[tool.setuptools.package-data] or give the folder an __init__.py): " + ", ".join(missing)
    )
print(f"package: {len(names)} files in the zip")
PYEOF

# Import from the zip alone, from a folder that is not the repo (so neither the work tree nor an
# editable install can stand in for it), and read package data through importlib.resources.
zip_abs=$(pwd)/$stage/vaxclean-pyfiles.zip
(
  cd /tmp
  PYTHONPATH="$zip_abs" "$PY" - "$zip_abs" <<'PYEOF'
import importlib.util
import sys
from importlib import resources

zip_path = sys.argv[1]
# find_spec locates a module without running it (running jobs needs a SparkSession).
for name in ("vaxclean.spark", "vaxclean.jobkit", "jobs.run", "jobs.ingest", "jobs.classify",
             "transforms.classify", "transforms.ledger"):
    spec = importlib.util.find_spec(name)
    if spec is None or not str(spec.origin).startswith(zip_path + "/"):
        sys.exit(f"package: {name} resolves to {spec and spec.origin}, not to the zip")
csvs = [p.name for p in resources.files("vaxclean").joinpath("reference").iterdir() if p.name.endswith(".csv")]
if not csvs:
    sys.exit("package: no reference CSV readable from inside the zip")
for name in csvs:
    resources.files("vaxclean").joinpath("reference", name).read_text(encoding="utf-8")
if not resources.files("vaxclean").joinpath("log4j2.properties").read_text(encoding="utf-8"):
    sys.exit("package: log4j2.properties is empty inside the zip")
try:
    from vaxclean.synth.reference import province_codes_2022
except ImportError:
    pass  # the generator is optional in a cluster run
else:
    assert len(province_codes_2022()) == 63, "reference data read from the zip is incomplete"
print(f"package: imports and {len(csvs)} reference files load from inside the zip")
PYEOF
)
rm -f dist/vaxclean-*.whl
mv -f "$wheel" dist/
mv -f "$stage/vaxclean-pyfiles.zip" dist/vaxclean-pyfiles.zip
echo "package: dist/$(basename "$wheel") and dist/vaxclean-pyfiles.zip"
