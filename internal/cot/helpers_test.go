package cot

// ev builds a minimal valid event around the given attributes and body.
func ev(attrs, body string) string {
	if attrs == "" {
		attrs = `uid="u-1" type="a-f-G-U-C"`
	}
	return `<event version="2.0" ` + attrs + ` how="m-g" time="2026-11-27T08:00:00.000Z" start="2026-11-27T08:00:00.000Z" stale="2026-11-27T08:05:00.000Z">` + body + `</event>`
}

const pt = `<point lat="35.1" lon="139.2" hae="10" ce="9999999.0" le="9999999.0"/>`
