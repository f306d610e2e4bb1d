#!/usr/bin/env bash
# Re-fetches the GraphiQL playground's assets (graph/playground/assets) from
# npm: GraphiQL's UMD bundle and stylesheet, and the React and ReactDOM UMD
# builds it runs on, with each package's licence. The binary serves these
# files itself, so the playground works without internet access.
#
# To update: change the versions below (keep React on a version that still
# ships umd/ builds: React 19 has none), run this script, open the
# playground, and commit the assets together with this script.
set -euo pipefail

graphiql="4.1.2"
react="18.2.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${root}/graph/playground/assets"
command -v npm >/dev/null || { echo "fetch-graphiql: npm is required" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
cd "${tmp}"
for spec in "graphiql@${graphiql}" "react@${react}" "react-dom@${react}"; do
	name="${spec%@*}"
	mkdir -p "${name}"
	tarball="$(npm pack --silent "${spec}")"
	tar -xzf "${tarball}" -C "${name}"
done

mkdir -p "${out}"
rm -f "${out}"/*
cp graphiql/package/graphiql.min.js graphiql/package/graphiql.min.css "${out}/"
cp react/package/umd/react.production.min.js "${out}/"
cp react-dom/package/umd/react-dom.production.min.js "${out}/"
cp graphiql/package/LICENSE "${out}/LICENSE.graphiql"
cp react/package/LICENSE "${out}/LICENSE.react"
cp react-dom/package/LICENSE "${out}/LICENSE.react-dom"
printf 'graphiql %s\nreact %s\nreact-dom %s\n' "${graphiql}" "${react}" "${react}" >"${out}/VERSIONS"
echo "GraphiQL ${graphiql}, React ${react} in ${out}"
