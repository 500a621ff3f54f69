// Package dashboard is the receptor's live web page (served at /): cells grouped
// by zone and the instances on them, drawn from the public API alone
// (GET /v1/cells, /v1/actual_lrps, /v1/desired_lrps and the /v1/events stream).
// It is one embedded page of plain HTML, CSS and JavaScript with no build step
// and no external resources; the server side holds no state.
package dashboard
