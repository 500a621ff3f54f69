package scenario

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/diego-runtime/diego/e2e/world"
	"github.com/diego-runtime/diego/internal/benchreport"
	"github.com/diego-runtime/diego/internal/certs"
	"github.com/diego-runtime/diego/internal/transport"
	"github.com/diego-runtime/diego/routing/messages"
)

// LateReadinessResult is when an app whose readiness passes late was first
// routed, by its own clock.
type LateReadinessResult struct {
	ReadyAfter time.Duration
	// FirstRoutedUptime is how long the app had run when the router first
	// brought it a request; RoutableUptime, when its record first said
	// routable (what the route emitter registers).
	FirstRoutedUptime, RoutableUptime time.Duration
	// RegisteredUptime is how long the app had run when the first
	// router.register naming its route went out on NATS.
	RegisteredUptime time.Duration
	// EarlyAnswers counts answers through the router from before ReadyAfter.
	EarlyAnswers int
}

// LateReadiness starts one instance whose readiness check (HTTP on a second
// port) passes only 5 s after start, while its liveness check (TCP on the
// routed port) passes at once, and asks for it through the router and the
// API every 50 ms until it is routed.
func LateReadiness(env Env) (res LateReadinessResult, err error) {
	res.ReadyAfter = 5 * time.Second
	c, err := start(env, world.Options{Cells: 2})
	if err != nil {
		return res, err
	}
	defer c.stop(&err)
	const guid = "ready-late"
	lrp := c.app(guid, 1, J{
		"ports":  []int{8080, 8081},
		"action": run("/bin/sh", "-c", "(sleep 5; PORT=8081 exec /app/httpapp) & exec /app/httpapp"),
		"check_definition": J{
			"checks":           []J{{"tcp_check": J{"port": 8080}}},
			"readiness_checks": []J{{"http_check": J{"port": 8081, "path": "/health"}}},
		},
	})
	registered, stopWatch, err := c.firstRegistration(host(guid))
	if err != nil {
		return res, err
	}
	defer stopWatch()
	if err := c.expect(http.MethodPost, "/v1/desired_lrps", lrp, http.StatusCreated); err != nil {
		return res, err
	}
	var appStart time.Time
	direct := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(2 * time.Minute); res.FirstRoutedUptime == 0 || res.RoutableUptime == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("%s not routed within 2 minutes (%+v)", guid, res)
		}
		if in, err := c.GetInstance(host(guid)); err == nil {
			up := time.Duration(in.UptimeMs) * time.Millisecond
			appStart = time.Now().Add(-up)
			if up < res.ReadyAfter {
				res.EarlyAnswers++
			}
			if res.FirstRoutedUptime == 0 {
				res.FirstRoutedUptime = up
			}
		}
		if res.RoutableUptime == 0 {
			if up, ok := routableUptime(c, direct, guid); ok {
				res.RoutableUptime = up
			}
		}
	}
	select {
	case at := <-registered:
		res.RegisteredUptime = at.Sub(appStart)
	case <-time.After(time.Minute):
		return res, fmt.Errorf("no router.register for %s seen on NATS, though the router routes it", host(guid))
	}
	return res, nil
}

// firstRegistration watches router.register on NATS, as a router does (its
// certificate, its subjects), and sends when the first one naming hostname
// arrived.
func (c *cluster) firstRegistration(hostname string) (<-chan time.Time, func(), error) {
	opt, err := transport.NATSOption(c.Config.TLSFor(certs.Of(certs.RoleRouter)))
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", c.Config.NATSPort), opt)
	if err != nil {
		return nil, nil, err
	}
	first := make(chan time.Time, 1)
	_, err = nc.Subscribe(messages.SubjectRegister, func(m *nats.Msg) {
		var reg messages.RegistryMessage
		if json.Unmarshal(m.Data, &reg) != nil {
			return
		}
		for _, uri := range reg.URIs {
			if uri == hostname {
				select {
				case first <- time.Now():
				default:
				}
			}
		}
	})
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return first, nc.Close, nil
}

// routableUptime asks a routable instance of guid directly (its host port)
// how long it has run.
func routableUptime(c *cluster, direct *http.Client, guid string) (time.Duration, bool) {
	list, err := c.ActualLRPs(guid)
	if err != nil {
		return 0, false
	}
	for _, a := range list {
		if !a.Routable || len(a.Ports) == 0 {
			continue
		}
		up, err := uptime(direct, fmt.Sprintf("http://%s:%d/", a.Address, a.Ports[0].HostPort))
		return up, err == nil
	}
	return 0, false
}

// Figures implements Figured.
func (r LateReadinessResult) Figures() []benchreport.Figure {
	name := fmt.Sprintf("readiness passing %s after start", r.ReadyAfter)
	return []benchreport.Figure{
		zero("faults", name+": answers through the router before it", float64(r.EarlyAnswers), "requests"),
		baseline("faults", name+": app uptime at its first routed request", r.FirstRoutedUptime.Seconds(), "s"),
		baseline("faults", name+": app uptime when its record turned routable", r.RoutableUptime.Seconds(), "s"),
		baseline("faults", name+": app uptime at its first router.register", r.RegisteredUptime.Seconds(), "s"),
	}
}
