package world

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/diego-runtime/diego/routing/router"
)

// Load sends a steady rate of GETs for one host through a router, each on its
// own goroutine so that a slow answer does not delay the next request, and
// counts the requests that fail: a transport error or any answer but 200
// (after AcceptUnknownRoute, also the router's 404 for a route it does not
// know). It stops on Stop, or on its own after MaxLoadDuration.
type Load struct {
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	sent, failed atomic.Int64
	unknownRoute atomic.Bool
	mu           sync.Mutex
	first        []string
	stopOnce     sync.Once
}

// MaxLoadDuration bounds a Load that is never stopped.
const MaxLoadDuration = 10 * time.Minute

// LoadResult is what a Load counted.
type LoadResult struct {
	Sent, Failed int64
	// FirstFailures says what the first few failures were, and when.
	FirstFailures []string
}

// StartLoad starts sending rate requests per second to routerURL with the
// Host header host.
func StartLoad(routerURL, host string, rate int) *Load {
	ctx, cancel := context.WithTimeout(context.Background(), MaxLoadDuration)
	l := &Load{cancel: cancel}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ticker := time.NewTicker(time.Second / time.Duration(rate))
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			l.sent.Add(1)
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				l.check(client, routerURL, host)
			}()
		}
	}()
	return l
}

func (l *Load) check(client *http.Client, routerURL, host string) {
	req, err := http.NewRequest(http.MethodGet, routerURL+"/", nil)
	if err != nil {
		l.fail(err.Error())
		return
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		l.fail(err.Error())
		return
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound && l.unknownRoute.Load() && resp.Header.Get(router.HeaderRouterError) == "unknown_route":
	default:
		l.fail(fmt.Sprintf("%s %d %s", time.Now().Format("15:04:05.000"), resp.StatusCode, resp.Header.Get(router.HeaderRouterError)))
	}
}

func (l *Load) fail(reason string) {
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.first) < 5 {
		l.first = append(l.first, reason)
	}
}

// AcceptUnknownRoute counts the router's 404 for an unknown route as an
// answer from now on: the right one once an app is scaled to 0.
func (l *Load) AcceptUnknownRoute() { l.unknownRoute.Store(true) }

// Stop ends the load, waits for the requests under way and returns the
// counts. It may be called more than once.
func (l *Load) Stop() LoadResult {
	l.stopOnce.Do(func() {
		l.cancel()
		l.wg.Wait()
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return LoadResult{Sent: l.sent.Load(), Failed: l.failed.Load(), FirstFailures: append([]string(nil), l.first...)}
}
