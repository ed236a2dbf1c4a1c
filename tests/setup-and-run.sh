#!/usr/bin/env bash
# Set up a fresh virtual environment with everything the tests need, then run them.
# Used by the README's test command and by CI (.ci/run). Safe to run again: it reuses .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real Apache Lucene for the fidelity tests (Debian package; Java 17 and javac are on the machine).
if ! ls /usr/share/java/lucene-core*.jar >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    bash tests/engines/install-lucene.sh
  else
    echo "note: Lucene jars missing and not root: the Lucene engine tests will be skipped" >&2
  fi
fi

# Headless Chromium for the hunt report test (tests/test_hunt_report_browser.py; Debian package).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; then
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
    fi
  else
    echo "note: chromium missing and not root: the hunt report browser test will be skipped" >&2
  fi
fi

python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# A regular (non-editable) install: the tests exercise the wheel's data files and sigma-cli plugin entry points.
# Extras: test (pytest suite), docs (site, notebook), lint (ruff, mypy); SIGMA_LAMBDA_EXTRAS=test for a lean loop.
EXTRAS="${SIGMA_LAMBDA_EXTRAS:-test,docs,lint}"
# The release build: the hunt's per-record modules compiled with mypyc (pyproject.toml, docs/hunt.md), where a
# C compiler and Python's headers are found. The build leaves the compiled modules beside their sources, so
# the suite below runs them; tests/test_hunt_build.py compares them with the sources as plain Python.
if ! command -v cc >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev >/dev/null 2>&1 || true
fi
if command -v cc >/dev/null 2>&1 \
  && python -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  export HATCH_BUILD_HOOK_ENABLE_MYPYC=1
else
  echo "note: no C compiler or Python headers: sigma-lambda installs as plain Python (same results, slower hunt)" >&2
fi
python -m pip install -q ".[${EXTRAS}]"
# Elastic's ES|QL grammar declares Python >= 3.12 but works on 3.11.
python -m pip install -q --ignore-requires-python "detection-rules-esql-py>=0.1,<0.2"

if [[ ",${EXTRAS}," == *",lint,"* ]]; then
  ruff check sigma_lambda_layer tests benchmarks
  ruff format --check sigma_lambda_layer
  mypy sigma_lambda_layer tests
fi
# Two workers (SIGMA_LAMBDA_TEST_WORKERS=N to change, 0 for none). --dist loadgroup keeps each
# xdist_group (the fidelity differential, computed once per process; the pre-commit environment) on one worker.
python -m pytest -q -p no:cacheprovider -n "${SIGMA_LAMBDA_TEST_WORKERS:-2}" --dist loadgroup "$@"
