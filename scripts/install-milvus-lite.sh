#!/usr/bin/env bash
# Installs Milvus Lite (the npm package that ships the standalone binary) into
# the project's own tools dir, where core/vector/milvuslite finds it. Safe to
# run repeatedly: it does nothing when the pinned version is already there.
set -euo pipefail

version="2.5.102"
pkg="@lyyyuna/milvus-lite-linux-x64"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${root}/.tools/milvus-lite"
dir="${prefix}/node_modules/${pkg}"

if [[ -x "${dir}/lib/milvus" ]] && grep -q "\"version\": \"${version}\"" "${dir}/package.json" 2>/dev/null; then
	exit 0
fi
if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
	echo "install-milvus-lite: ${pkg} runs on Linux x86_64 only; Milvus tests will be skipped (or fail with CI=true)" >&2
	exit 1
fi
command -v npm >/dev/null || { echo "install-milvus-lite: npm is required" >&2; exit 1; }

mkdir -p "${prefix}"
npm install --prefix "${prefix}" --no-audit --no-fund --loglevel=error "${pkg}@${version}"
test -x "${dir}/lib/milvus"
echo "Milvus Lite ${version} installed in ${dir}"
