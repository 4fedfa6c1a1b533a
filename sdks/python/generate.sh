#!/usr/bin/env bash
# Writes the SDK's types, src/ccgate/models.py, from the repository's openapi.json with
# the pinned datamodel-code-generator (requirements-dev.txt). `generate.sh OUT` writes
# them to OUT instead: the tests regenerate into a temporary file and compare.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/src/ccgate/models.py}
python=${PYTHON:-python3}
# The generator warns about constraints pydantic cannot express on URLs; the server checks them.
PYTHONWARNINGS=ignore "$python" -m datamodel_code_generator \
    --input "$here/../../openapi.json" --input-file-type openapi \
    --output-model-type pydantic_v2.BaseModel --target-python-version 3.11 \
    --use-annotated --use-standard-collections --use-union-operator --field-constraints --set-default-enum-member \
    --use-double-quotes --disable-timestamp --custom-file-header '# Generated from openapi.json by sdks/python/generate.sh: do not edit.' \
    --output "$out"
