package receptor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"code.cloudfoundry.org/clock"
	"code.cloudfoundry.org/lager/v3"

	"github.com/diego-runtime/diego/internal/netguard"
	"github.com/diego-runtime/diego/models"
)

// Defaults for TaskCompletionWorker.
const (
	DefaultKickInterval    = 30 * time.Second
	DefaultCallbackTries   = 3
	DefaultCallbackRetry   = 500 * time.Millisecond
	DefaultCallbackTimeout = 10 * time.Second
	DefaultCallbackWorkers = 16
	// DefaultResolvingRenewInterval is a third of the converger's default
	// resolving timeout (30 s), so two renewals may fail before it acts.
	DefaultResolvingRenewInterval = 10 * time.Second
)

// TaskCompletionWorker delivers completion callbacks (DESIGN 6.2). It watches
// the BBS's task events and, every KickInterval, scans for COMPLETED tasks. For
// each one with a completion_callback_url it marks the task RESOLVING (a
// compare-and-swap, so among several receptors only one delivers), POSTs the
// task JSON to the URL, and then:
//   - any answer but 503/504: deletes the task;
//   - 503, 504, a timeout or a refused connection: tries again, Tries times in
//     all, then puts the task back to COMPLETED for the next kick;
//   - while the delivery runs, it renews the task's RESOLVING lease every
//     ResolvingRenewInterval (BBS RenewResolvingTask), so a callback that
//     answers after longer than the converger's resolving timeout is not
//     reverted to COMPLETED and delivered a second time by another receptor:
//     a completion is delivered at most once while its deliverer is alive;
//   - a destination the deny list refuses (see CallbackDenyList), directly or
//     after a redirect: logs "callback-refused" with the reason, puts the task
//     back to COMPLETED (readable and deletable through the API) and does not
//     try it again while this worker runs, since the answer cannot change.
type TaskCompletionWorker struct {
	Logger lager.Logger
	BBS    BBS
	// HTTP posts the callbacks; nil means a netguard client over
	// CallbackDenyList(DenyNetworks, AllowLoopback) with CallbackTimeout.
	HTTP  *http.Client
	Clock clock.Clock // nil means the real clock
	// KickInterval between scans. Default 30 s.
	KickInterval time.Duration
	// Tries per delivery before giving up until the next kick. Default 3.
	Tries int
	// RetryDelay between quick tries. Default 500 ms.
	RetryDelay time.Duration
	// CallbackTimeout bounds one POST when HTTP is nil. Default 10 s.
	CallbackTimeout time.Duration
	// Workers bounds deliveries in flight. Default 16.
	Workers int
	// ResolvingRenewInterval is how often a delivery in flight renews its
	// task's RESOLVING lease; keep it well below the converger's
	// resolving_timeout. Default 10 s.
	ResolvingRenewInterval time.Duration
	// DenyNetworks are refused as callback destinations on top of
	// netguard.DefaultDenied and this host's addresses (when HTTP is nil).
	DenyNetworks []string
	// AllowLoopback lets callbacks reach loopback (127.0.0.0/8, ::1): for
	// tests and single-machine setups whose callback receivers run beside
	// the receptor. Default false.
	AllowLoopback bool

	mu       sync.Mutex
	inFlight map[string]bool
	refused  map[string]bool // tasks whose callback URL the deny list refused
}

func (w *TaskCompletionWorker) defaults() error {
	if w.Clock == nil {
		w.Clock = clock.NewClock()
	}
	if w.KickInterval <= 0 {
		w.KickInterval = DefaultKickInterval
	}
	if w.Tries <= 0 {
		w.Tries = DefaultCallbackTries
	}
	if w.RetryDelay <= 0 {
		w.RetryDelay = DefaultCallbackRetry
	}
	if w.CallbackTimeout <= 0 {
		w.CallbackTimeout = DefaultCallbackTimeout
	}
	if w.HTTP == nil {
		deny, err := CallbackDenyList(w.DenyNetworks, w.AllowLoopback)
		if err != nil {
			return err
		}
		w.HTTP = deny.HTTPClient(w.CallbackTimeout)
	}
	if w.Workers <= 0 {
		w.Workers = DefaultCallbackWorkers
	}
	if w.ResolvingRenewInterval <= 0 {
		w.ResolvingRenewInterval = DefaultResolvingRenewInterval
	}
	w.inFlight = map[string]bool{}
	w.refused = map[string]bool{}
	return nil
}

// Run implements ifrit.Runner.
func (w *TaskCompletionWorker) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	if err := w.defaults(); err != nil {
		return err
	}
	logger := w.Logger.Session("task-callbacks")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	slots := make(chan struct{}, w.Workers)
	deliver := func(task *models.Task) {
		if task.State != models.TaskStateCompleted || task.CompletionCallbackURL == "" || !w.claim(task.TaskGuid) {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.release(task.TaskGuid)
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-slots }()
			w.resolve(ctx, logger, task)
		}()
	}

	tasks := make(chan *models.Task)
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.watch(ctx, logger, tasks)
	}()

	// A signal cancels at once, even in the middle of a scan.
	go func() {
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()

	close(ready)
	w.scan(ctx, logger, deliver)
	ticker := w.Clock.NewTicker(w.KickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case task := <-tasks:
			deliver(task)
		case <-ticker.C():
			w.scan(ctx, logger, deliver)
		}
	}
}

func (w *TaskCompletionWorker) claim(guid string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inFlight[guid] || w.refused[guid] {
		return false
	}
	w.inFlight[guid] = true
	return true
}

func (w *TaskCompletionWorker) release(guid string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.inFlight, guid)
}

func (w *TaskCompletionWorker) scan(ctx context.Context, logger lager.Logger, deliver func(*models.Task)) {
	tasks, err := w.BBS.Tasks(ctx, logger, models.TaskFilter{})
	if err != nil {
		if ctx.Err() == nil {
			logger.Error("listing-tasks-failed", err)
		}
		return
	}
	w.forgetRefused(tasks)
	for _, t := range tasks {
		deliver(t)
	}
}

// forgetRefused drops refused tasks that are gone from the store.
func (w *TaskCompletionWorker) forgetRefused(tasks []*models.Task) {
	present := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		present[t.TaskGuid] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for guid := range w.refused {
		if !present[guid] {
			delete(w.refused, guid)
		}
	}
}

// watch feeds completed tasks from the event stream, resubscribing after a
// second when the stream breaks (the periodic scan covers any gap).
func (w *TaskCompletionWorker) watch(ctx context.Context, logger lager.Logger, out chan<- *models.Task) {
	for ctx.Err() == nil {
		subCtx, subCancel := context.WithCancel(ctx)
		source, err := w.BBS.SubscribeToEvents(subCtx, logger, 0)
		if err == nil {
			go func() {
				<-subCtx.Done()
				source.Close()
			}()
			for {
				ev, err := source.Next()
				if err != nil {
					break
				}
				task := ev.Task
				if ev.TaskAfter != nil {
					task = ev.TaskAfter
				}
				if ev.Type == models.EventTypeTaskRemoved || task == nil || task.State != models.TaskStateCompleted {
					continue
				}
				select {
				case out <- task:
				case <-ctx.Done():
					subCancel()
					return
				}
			}
		} else if ctx.Err() == nil {
			logger.Error("subscribing-failed", err)
		}
		subCancel()
		select {
		case <-ctx.Done():
			return
		case <-w.Clock.After(time.Second):
		}
	}
}

func (w *TaskCompletionWorker) resolve(ctx context.Context, logger lager.Logger, task *models.Task) {
	logger = logger.Session("resolve", lager.Data{"task_guid": task.TaskGuid})
	if err := w.BBS.ResolvingTask(ctx, logger, task.TaskGuid); err != nil {
		// Another receptor won, or the task moved on.
		logger.Debug("not-resolving", lager.Data{"error": err.Error()})
		return
	}
	stopRenewing := w.renewWhileDelivering(ctx, logger, task.TaskGuid)
	defer stopRenewing()
	body, err := json.Marshal(publicTask(task))
	if err != nil {
		logger.Error("encoding-task-failed", err)
		return
	}
	for try := 1; ; try++ {
		status, err := w.post(ctx, task.CompletionCallbackURL, body)
		if err == nil && status != http.StatusServiceUnavailable && status != http.StatusGatewayTimeout {
			logger.Info("delivered", lager.Data{"status": status})
			if err := w.BBS.DeleteTask(ctx, logger, task.TaskGuid); err != nil {
				logger.Error("deleting-task-failed", err)
			}
			return
		}
		if errors.Is(err, netguard.ErrDenied) {
			logger.Error("callback-refused", err, lager.Data{
				"reason": "the callback URL leads to a denied network (loopback, link-local, this host or callback_deny_networks); the task stays COMPLETED and is not tried again",
			})
			w.mu.Lock()
			w.refused[task.TaskGuid] = true
			w.mu.Unlock()
			break
		}
		if err == nil {
			err = fmt.Errorf("callback answered %d", status)
		}
		logger.Info("callback-failed", lager.Data{"try": try, "error": err.Error()})
		if try >= w.Tries || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-w.Clock.After(w.RetryDelay):
		}
	}
	// Use a fresh context: on shutdown the task must not stay RESOLVING.
	revertCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.BBS.RevertResolvingTask(revertCtx, logger, task.TaskGuid); err != nil {
		logger.Error("reverting-task-failed", err)
	}
}

// renewWhileDelivering renews the task's RESOLVING lease every
// ResolvingRenewInterval until the returned stop is called (which waits for
// the renewer to end). A lost lease is logged once and renewing ends: the
// converger put the task back, and the delivery already on the wire cannot be
// taken back.
func (w *TaskCompletionWorker) renewWhileDelivering(ctx context.Context, logger lager.Logger, guid string) (stop func()) {
	renewCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := w.Clock.NewTicker(w.ResolvingRenewInterval)
		defer ticker.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-ticker.C():
			}
			err := w.BBS.RenewResolvingTask(renewCtx, logger, guid)
			switch {
			case err == nil:
			case renewCtx.Err() != nil:
				return
			case errors.Is(err, models.ErrInvalidStateTransition) || errors.Is(err, models.ErrTaskNotFound):
				logger.Error("resolving-lease-lost", err)
				return
			default:
				logger.Error("renewing-resolving-lease-failed", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

func (w *TaskCompletionWorker) post(ctx context.Context, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	return resp.StatusCode, nil
}
