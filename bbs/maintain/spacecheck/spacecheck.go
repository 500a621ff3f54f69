// Package spacecheck is the check "a route-update loop does not fill etcd and
// the BBS keeps writing", usable against any BBS: an in-process one in a
// package suite, or a whole `diego up` cluster through its receptor (issue
// 19, item 8). It is test tooling without test dependencies: the caller says
// how to update and how to read the store's health, and asserts on the Result.
package spacecheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/models"
)

// Defaults for Loop.
const (
	DefaultUpdates       = 500
	DefaultRouteBytes    = 120 * 1024
	DefaultRecoverWithin = time.Minute
	DefaultRetryEvery    = 200 * time.Millisecond
)

// Routes returns "cf-router" routes whose JSON is about size bytes (at most
// models.MaxRoutesBytes), different for every round, so that each update
// writes a new value of that size.
func Routes(round, size int) models.Routes {
	size = min(size, models.MaxRoutesBytes-1024)
	prefix := "r" + strconv.Itoa(round) + "-"
	var hostnames []string
	total := 64
	for i := 0; total < size; i++ {
		h := prefix + strconv.Itoa(i) + ".space-check.example.com"
		hostnames = append(hostnames, h)
		total += len(h) + 3
	}
	raw, err := json.Marshal([]models.CFRoute{{Hostnames: hostnames, Port: 8080}})
	if err != nil { // a slice of strings always encodes
		panic(err)
	}
	return models.Routes{models.CFRouterKey: raw}
}

// Loop updates one app's routes again and again, retrying an update that
// fails until it succeeds or RecoverWithin has passed since its first
// failure. Update is required.
type Loop struct {
	// Update gives the app routes: the BBS client's UpdateDesiredLRP, or the
	// receptor's PUT /v1/desired_lrps/:guid (see BBSUpdate).
	Update func(ctx context.Context, routes models.Routes) error
	// Health reads the store's health after each update (the BBS client's
	// StoreHealth, or the receptor's GET /v1/health); nil reads nothing.
	Health func(ctx context.Context) (*models.StoreHealth, error)
	// Updates to make. Default DefaultUpdates.
	Updates int
	// RouteBytes is the size of each update's routes. Default 120 KiB.
	RouteBytes int
	// RecoverWithin bounds how long one update may keep failing (a transient
	// NOSPACE the BBS recovers from). Default 1 min.
	RecoverWithin time.Duration
	// RetryEvery is the pause between tries of a failing update. Default 200 ms.
	RetryEvery time.Duration
	// Logger receives one line per failed try; nil logs nothing.
	Logger lager.Logger
}

// Result is what a Loop saw.
type Result struct {
	// Updates is how many updates succeeded (all of them when Run returns nil).
	Updates int
	// FailedTries counts tries that failed and were retried.
	FailedTries int
	// LongestStall is the longest time one update took from its first try to
	// its success.
	LongestStall time.Duration
	// MaxDBSizeBytes is the largest database size Health reported, and
	// QuotaBytes the quota it reported.
	MaxDBSizeBytes, QuotaBytes int64
	// AlarmsSeen counts the Health reads that reported NOSPACE.
	AlarmsSeen int
	// FirstError is the first error any try met (nil if none failed).
	FirstError error
}

// BBSUpdater is the part of the BBS API BBSUpdate calls (bbs/client.API has it).
type BBSUpdater interface {
	UpdateDesiredLRP(ctx context.Context, logger lager.Logger, processGuid string, update models.DesiredLRPUpdate) error
}

// BBSUpdate is a Loop.Update that updates processGuid's routes through api.
func BBSUpdate(api BBSUpdater, logger lager.Logger, processGuid string) func(context.Context, models.Routes) error {
	return func(ctx context.Context, routes models.Routes) error {
		return api.UpdateDesiredLRP(ctx, logger, processGuid, models.DesiredLRPUpdate{Routes: &routes})
	}
}

// Run makes the updates. It fails when one update could not be made within
// RecoverWithin (the BBS did not recover by itself) or ctx ends; the Result
// says how far it got either way.
func (l Loop) Run(ctx context.Context) (Result, error) {
	var res Result
	if l.Update == nil {
		return res, errors.New("spacecheck: Update is required")
	}
	updates, size := l.Updates, l.RouteBytes
	if updates <= 0 {
		updates = DefaultUpdates
	}
	if size <= 0 {
		size = DefaultRouteBytes
	}
	recoverWithin, retryEvery := l.RecoverWithin, l.RetryEvery
	if recoverWithin <= 0 {
		recoverWithin = DefaultRecoverWithin
	}
	if retryEvery <= 0 {
		retryEvery = DefaultRetryEvery
	}
	for round := 0; round < updates; round++ {
		routes := Routes(round, size)
		start := time.Now()
		for {
			err := l.Update(ctx, routes)
			if err == nil {
				break
			}
			res.FailedTries++
			if res.FirstError == nil {
				res.FirstError = err
			}
			if l.Logger != nil {
				l.Logger.Info("update-failed-retrying", lager.Data{"round": round, "error": err.Error()})
			}
			if time.Since(start) > recoverWithin {
				return res, fmt.Errorf("spacecheck: update %d still failing after %s: %w", round, recoverWithin, err)
			}
			select {
			case <-ctx.Done():
				return res, fmt.Errorf("spacecheck: update %d: %w", round, ctx.Err())
			case <-time.After(retryEvery):
			}
		}
		res.Updates++
		res.LongestStall = max(res.LongestStall, time.Since(start))
		if l.Health == nil {
			continue
		}
		h, err := l.Health(ctx)
		if err != nil {
			if l.Logger != nil {
				l.Logger.Info("health-read-failed", lager.Data{"round": round, "error": err.Error()})
			}
			continue
		}
		res.MaxDBSizeBytes = max(res.MaxDBSizeBytes, h.DBSizeBytes)
		res.QuotaBytes = h.QuotaBytes
		if h.HasAlarm(models.AlarmNoSpace) {
			res.AlarmsSeen++
		}
	}
	return res, nil
}
