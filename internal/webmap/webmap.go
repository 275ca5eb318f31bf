// Package webmap owns the embedded web map: a static single-page application
// (HTML, CSS and ES modules, no build step) and the vendored front-end
// libraries it uses (Leaflet, topojson-client, milsymbol and Natural Earth
// coastlines and borders from world-atlas).
//
// Everything the page loads is embedded in the binary, so the map works on a
// closed network: the page fetches nothing beyond its own origin. The HTTP
// server serves FS at "/"; the page talks to the JSON API under /api/v1/ and
// the WebSocket stream /api/v1/stream. Beside the Go sources: vendor.sh
// refreshes the vendored libraries under static/vendor, test/ holds the
// headless-Chromium and node:test suites of the page, and bench/ its
// browser benchmarks.
package webmap

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// FS returns the web application's files, rooted so that "index.html" is at
// the top.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// The directory is embedded at build time; a failure is a build defect.
		panic("webmap: embedded static directory missing: " + err.Error())
	}
	return sub
}
