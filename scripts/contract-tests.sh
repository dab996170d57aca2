#!/usr/bin/env bash
# The API contract suite (part of `make test`): schemathesis (pinned in Tests/contract/requirements.txt)
# generates requests from Web/openapi.yaml as served at /openapi.yaml, with a fixed seed and a
# bounded number of examples per operation, against a fresh registry with the demo data, signed
# in as each kind of caller in turn: administrator, agency, employer, worker and an integration
# key. It fails on any 5xx, a status code or content type the document does not list, a response
# that does not match its schema, schema-invalid input that is accepted, and a credential that no
# longer works after its run. Before that, Tests/contract/run.py makes every operation each role may
# call succeed with real data (stateful sequences, checked against the document) and walks an
# integrator's journey through a client generated from the document (openapi-python-client).
#   CONTRACT_EXAMPLES (default 25), CONTRACT_SEED (default 20261129), CONTRACT_ROLES and
#   CONTRACT_SKIP tune the run (see Tests/contract/run.py).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/contract-venv
if ! "$venv/bin/st" --version >/dev/null 2>&1 || ! "$venv/bin/python" -c 'import openapi_spec_validator' 2>/dev/null; then
    echo "contract tests: creating $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r Tests/contract/requirements.txt
    cp Tests/contract/requirements.txt "$venv/requirements.txt"
elif ! cmp -s Tests/contract/requirements.txt "$venv/requirements.txt"; then
    # The pins changed since the environment was made (or it predates this record): bring it up to them.
    echo "contract tests: updating $venv to Tests/contract/requirements.txt"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r Tests/contract/requirements.txt
    cp Tests/contract/requirements.txt "$venv/requirements.txt"
fi
# The published document must be a valid OpenAPI 3.1 document, every operation named.
"$venv/bin/python" - Web/openapi.yaml <<'PY'
import sys
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
document, _ = read_from_filename(sys.argv[1])
validate(document)
operations = [op for item in document["paths"].values() for method, op in item.items()
              if method in ("get", "post", "put", "delete", "patch")]
ids = [op.get("operationId") for op in operations]
missing = [i for i, v in enumerate(ids) if not v]
assert not missing, f"{len(missing)} operations without an operationId"
assert len(set(ids)) == len(ids), "operationIds repeat"
print(f"contract tests: {sys.argv[1]} is valid OpenAPI 3.1; {len(ids)} operations, each with its operationId")
PY
# shellcheck disable=SC2086
swift build ${SWIFT_BUILD_FLAGS:-}
# shellcheck disable=SC2086
registry="$(swift build ${SWIFT_BUILD_FLAGS:-} --show-bin-path | tail -n 1)/registry"
export CONTRACT_ST="$(pwd)/$venv/bin/st" CONTRACT_REGISTRY="$registry"
exec timeout 1200 scripts/with-server.sh "$registry" python3 -B Tests/contract/run.py "$@"
