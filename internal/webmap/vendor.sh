#!/usr/bin/env bash
# Refreshes the front-end libraries embedded in the web map.
#
# The web map must work on closed networks, so nothing is fetched at run time:
# this script downloads pinned npm packages, checks each tarball against its
# pinned integrity hash, and copies only the files the page uses (plus each
# package's licence) into internal/webmap/static/vendor/. The output is
# committed, so building kizuna needs neither npm nor a network.
#
# Usage: internal/webmap/vendor.sh            (from anywhere in the repository)
# To upgrade a package, change its version and integrity below; the integrity
# is the registry's value, shown by `npm view NAME@VERSION dist.integrity`.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
out="$repo/internal/webmap/static/vendor"

# name version integrity
packages=(
	"leaflet 1.9.4 sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
	"topojson-client 3.1.0 sha512-605uxS6bcYxGXw9qi62XyrV6Q3xwbndjachmNxu8HWTtVPxZfEJN9fd/SZS1Q54Sn2y0TMyMxFj/cJINqGHrKw=="
	"milsymbol 3.0.4 sha512-Jrs1RBCag2IzyEJwI476i2+pNHdi8WMwAp2mDD23g3TR48ERdHmdQgPXZUosRKyhPMr58/eOPyyLE53lMPPAgw=="
	"world-atlas 2.0.2 sha512-IXfV0qwlKXpckz1FhwXVwKRjiIhOnWttOskm5CtxMsjgE/MXAYRHWJqgXOpM8IkcPBoXnyTU5lFHcYa5ChG0LQ=="
)

# Files to keep from each package, relative to the package root.
files_leaflet="dist/leaflet.js dist/leaflet.css dist/images/layers.png dist/images/layers-2x.png dist/images/marker-icon.png dist/images/marker-icon-2x.png dist/images/marker-shadow.png LICENSE"
files_topojson_client="dist/topojson-client.min.js LICENSE"
files_milsymbol="dist/milsymbol.js LICENSE"
# Natural Earth via world-atlas: 1:50m for the region view, 1:10m for a city.
files_world_atlas="countries-50m.json countries-10m.json LICENSE README.md"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

stage="$work/vendor"
mkdir -p "$stage"
{
	echo "# Vendored by internal/webmap/vendor.sh. Do not edit by hand."
	echo "# name version integrity"
} >"$stage/VERSIONS"

for entry in "${packages[@]}"; do
	read -r name version integrity <<<"$entry"
	echo "vendoring $name@$version" >&2
	tgz=$(cd "$work" && npm pack --silent "$name@$version")
	got="sha512-$(openssl dgst -sha512 -binary "$work/$tgz" | base64 -w0)"
	if [[ "$got" != "$integrity" ]]; then
		echo "integrity mismatch for $name@$version: got $got, want $integrity" >&2
		exit 1
	fi
	mkdir -p "$work/x/$name"
	tar -xzf "$work/$tgz" -C "$work/x/$name"
	var="files_${name//-/_}"
	dest="$stage/$name"
	mkdir -p "$dest"
	for f in ${!var}; do
		src="$work/x/$name/package/$f"
		# dist/ is flattened: vendor/leaflet/leaflet.js, vendor/leaflet/images/…
		rel="${f#dist/}"
		mkdir -p "$(dirname "$dest/$rel")"
		cp "$src" "$dest/$rel"
		# Source maps are not vendored: drop the comment that points at one.
		if [[ "$rel" == *.js ]]; then
			sed -i '/^\/\/# sourceMappingURL=/d' "$dest/$rel"
		fi
	done
	echo "$name $version $integrity" >>"$stage/VERSIONS"
done

rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$stage" "$out"
echo "vendored into ${out#"$repo"/}" >&2
