// Package receptor is Diego's public, versioned JSON API (DESIGN 9): an
// http.Handler over the BBS client, with basic auth and CORS, and the worker
// that delivers task completion callbacks (DESIGN 6.2). It holds no state; run
// several. docs/api.md describes every route.
package receptor
