#!/usr/bin/env bash
# The package as users get it: build the sdist and wheel, install the wheel into a clean venv
# (dependencies from PyPI at the versions uv.lock pins), and check that Airflow finds the
# provider, that the CLI starts, and that the sdist carries the package and its README.
set -euo pipefail
cd "$(dirname "$0")/.."

UV=${UV:-uv}
PYTHON=${PYTHON:-python3.11}
export UV_PYTHON_DOWNLOADS=never

work=$(mktemp -d "${TMPDIR:-/tmp}/kimi-check-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { printf '\n== %s\n' "$*"; }
fail() {
    printf 'check-wheel: %s\n' "$*" >&2
    exit 1
}

step "build sdist and wheel"
$UV build --quiet --out-dir "$work/dist"
sdist=$(ls "$work"/dist/airflow_provider_kimi-*.tar.gz)
wheel=$(ls "$work"/dist/airflow_provider_kimi-*-py3-none-any.whl)
echo "$(basename "$sdist") $(basename "$wheel")"

step "sdist contents"
listing=$(tar -tzf "$sdist")
for member in README.md pyproject.toml airflow_provider_kimi/__init__.py \
    airflow_provider_kimi/get_provider_info.py airflow_provider_kimi/py.typed; do
    grep -qx "airflow_provider_kimi-[^/]*/$member" <<<"$listing" || fail "sdist lacks $member"
done
echo "package, README and provider info present"

step "install the wheel into a clean venv"
$UV export --frozen --quiet --no-hashes --no-dev --no-emit-project --output-file "$work/constraints.txt"
$UV venv --quiet --python "$PYTHON" "$work/venv"
$UV pip install --quiet --python "$work/venv/bin/python" --constraint "$work/constraints.txt" "$wheel"

step "airflow providers list"
cd "$work"  # away from the source tree, so only the installed wheel can be imported
# A throwaway home: the check reads nothing of the machine's Airflow set-up and leaves nothing behind.
providers=$(env -i PATH="$work/venv/bin:/usr/bin:/bin" HOME="$work" AIRFLOW_HOME="$work/airflow-home" \
    "$work/venv/bin/airflow" providers list --output plain)
grep -E '^airflow-provider-kimi[[:space:]]' <<<"$providers" || fail "airflow providers list does not show airflow-provider-kimi"

step "kimi-batch --help"
"$work/venv/bin/kimi-batch" --help >/dev/null || fail "kimi-batch --help failed"
echo "ok"
