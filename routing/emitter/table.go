package emitter

import (
	"encoding/json"
	"sort"
	"strconv"

	"github.com/diego-runtime/diego/models"
	"github.com/diego-runtime/diego/routing/messages"
)

// Message is one NATS publication.
type Message struct {
	Subject string
	Body    messages.RegistryMessage
}

// route is what a desired LRP asks for.
type route struct {
	hostnames map[uint32][]string // container port -> hostnames
	logGuid   string
	instances int
	tag       models.ModificationTag
}

// record is one routable actual LRP record.
type record struct {
	address      string
	ports        map[uint32]uint32 // container port -> host port
	index        int
	instanceGuid string
	cellID       string
	since        int64 // the record's last change, unix ns: endpoint_updated_at_ns
	tag          models.ModificationTag
}

// Cell is what the messages say about where an instance runs.
type Cell struct {
	Zone             string
	IsolationSegment string
}

// recordKey tells apart the copies of one instance (ordinary, evacuating, suspect).
type recordKey struct {
	instanceGuid string
	presence     string
}

// registration is one (hostname, endpoint) pair the routers should hold.
type registration struct {
	uri  string
	host string
	port uint32
}

// Table is the routing table. It is not safe for concurrent use.
type Table struct {
	routes  map[string]route
	records map[string]map[recordKey]record
	cells   map[string]Cell
	// removedTags remembers the tag of records removed by an event, so that a
	// late "changed" event cannot bring a dead endpoint back.
	removedTags map[recordKey]models.ModificationTag
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{routes: map[string]route{}, records: map[string]map[recordKey]record{}, cells: map[string]Cell{},
		removedTags: map[recordKey]models.ModificationTag{}}
}

// SetCells records every present cell's zone and isolation segment. It
// publishes nothing: the next registration of an instance carries them.
func (t *Table) SetCells(cells []*models.CellPresence) {
	for _, c := range cells {
		t.cells[c.CellID] = Cell{Zone: c.Zone, IsolationSegment: c.IsolationSegment}
	}
}

// KnowsCell says whether SetCells has seen the cell.
func (t *Table) KnowsCell(cellID string) bool {
	_, ok := t.cells[cellID]
	return ok
}

// SetRoutes applies a desired LRP's routes (created or changed).
func (t *Table) SetRoutes(d models.DesiredLRPSchedulingInfo, logGuid string) []Message {
	if old, ok := t.routes[d.ProcessGuid]; ok && old.tag != d.ModificationTag && !old.tag.SucceededBy(d.ModificationTag) {
		return nil
	}
	return t.mutate(d.ProcessGuid, func() {
		t.routes[d.ProcessGuid] = route{hostnames: cfHostnames(d.Routes), logGuid: logGuid, instances: d.Instances, tag: d.ModificationTag}
	})
}

// RemoveRoutes forgets a desired LRP's routes.
func (t *Table) RemoveRoutes(processGuid string) []Message {
	return t.mutate(processGuid, func() { delete(t.routes, processGuid) })
}

// SetActual applies an actual LRP record: routable when RUNNING and routable,
// otherwise removed from the table.
func (t *Table) SetActual(a *models.ActualLRP) []Message {
	key := recordKey{a.InstanceGuid, presenceOf(a)}
	if a.InstanceGuid == "" {
		return nil
	}
	if old, ok := t.records[a.ProcessGuid][key]; ok && old.tag != a.ModificationTag && !old.tag.SucceededBy(a.ModificationTag) {
		return nil // a late or repeated event
	}
	if gone, ok := t.removedTags[key]; ok && (gone == a.ModificationTag || !gone.SucceededBy(a.ModificationTag)) {
		return nil // removed already; an older copy must not resurrect it
	}
	if !(a.State == models.ActualLRPStateRunning && a.Routable) {
		return t.removeRecord(a.ProcessGuid, key)
	}
	return t.mutate(a.ProcessGuid, func() {
		ports := map[uint32]uint32{}
		for _, p := range a.Ports {
			ports[p.ContainerPort] = p.HostPort
		}
		if t.records[a.ProcessGuid] == nil {
			t.records[a.ProcessGuid] = map[recordKey]record{}
		}
		t.records[a.ProcessGuid][key] = record{address: a.Address, ports: ports, index: a.Index, instanceGuid: a.InstanceGuid,
			cellID: a.CellID, since: a.Since, tag: a.ModificationTag}
	})
}

// RemoveActual applies the removal of an actual LRP record. A removal that
// names no instance (the BBS could not read the deleted value and sent only
// its key: process guid, index, presence) drops every copy of that index in
// that presence.
func (t *Table) RemoveActual(a *models.ActualLRP) []Message {
	if a.InstanceGuid == "" {
		return t.removeIndex(a.ProcessGuid, a.Index, presenceOf(a))
	}
	key := recordKey{a.InstanceGuid, presenceOf(a)}
	if old, ok := t.records[a.ProcessGuid][key]; ok && old.tag != a.ModificationTag && !old.tag.SucceededBy(a.ModificationTag) {
		return nil
	}
	t.removedTags[key] = a.ModificationTag
	return t.removeRecord(a.ProcessGuid, key)
}

func (t *Table) removeIndex(processGuid string, index int, presence string) []Message {
	var keys []recordKey
	for key, rec := range t.records[processGuid] {
		if rec.index == index && key.presence == presence {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return t.mutate(processGuid, func() {
		for _, key := range keys {
			delete(t.records[processGuid], key)
		}
		if len(t.records[processGuid]) == 0 {
			delete(t.records, processGuid)
		}
	})
}

func (t *Table) removeRecord(processGuid string, key recordKey) []Message {
	if _, ok := t.records[processGuid][key]; !ok {
		return nil
	}
	return t.mutate(processGuid, func() {
		delete(t.records[processGuid], key)
		if len(t.records[processGuid]) == 0 {
			delete(t.records, processGuid)
		}
	})
}

// Replace swaps in a table built from a full sync and returns the differences.
func (t *Table) Replace(fresh *Table) []Message {
	guids := map[string]bool{}
	for g := range t.routes {
		guids[g] = true
	}
	for g := range fresh.routes {
		guids[g] = true
	}
	before := map[string]map[registration]Message{}
	for g := range guids {
		before[g] = t.registrations(g)
	}
	t.routes, t.records = fresh.routes, fresh.records
	for id, c := range fresh.cells {
		t.cells[id] = c
	}
	t.removedTags = map[recordKey]models.ModificationTag{} // the sync is the new truth
	var out []Message
	for _, g := range sortedKeys(guids) {
		out = append(out, diff(before[g], t.registrations(g))...)
	}
	return out
}

// Registrations lists every registration, for re-publishing.
func (t *Table) Registrations() []Message {
	var out []Message
	for _, g := range sortedKeys(t.routes) {
		regs := t.registrations(g)
		for _, r := range sortedRegs(regs) {
			out = append(out, regs[r])
		}
	}
	return out
}

func (t *Table) mutate(processGuid string, change func()) []Message {
	before := t.registrations(processGuid)
	change()
	return diff(before, t.registrations(processGuid))
}

// registrations derives what the routers should hold for one process: every
// hostname of a container port times every record exposing that port, for
// the indices still desired (a scale-down withdraws the indices it drops at
// once, before their instances are stopped). Copies that share an endpoint
// collapse into one registration, so removing one copy never unregisters an
// endpoint another copy still serves; the newest copy speaks for it, so that
// endpoint_updated_at_ns never goes back.
func (t *Table) registrations(processGuid string) map[registration]Message {
	out := map[registration]Message{}
	r, ok := t.routes[processGuid]
	if !ok {
		return out
	}
	for _, rec := range t.records[processGuid] {
		if rec.index >= r.instances {
			continue
		}
		for containerPort, hostnames := range r.hostnames {
			hostPort, ok := rec.ports[containerPort]
			if !ok || hostPort == 0 {
				continue
			}
			for _, uri := range hostnames {
				reg := registration{uri: uri, host: rec.address, port: hostPort}
				if prior, ok := out[reg]; ok && !newer(rec, prior.Body) {
					continue
				}
				out[reg] = Message{Subject: messages.SubjectRegister, Body: t.message(processGuid, r, rec, uri, hostPort)}
			}
		}
	}
	return out
}

// message is the registry message of one hostname and endpoint, with every
// field gorouter reads that Diego knows. Tags use the names Cloud Foundry's
// emitter gives them; app_id is the log guid, as Cloud Foundry's app guid is.
func (t *Table) message(processGuid string, r route, rec record, uri string, hostPort uint32) messages.RegistryMessage {
	index := strconv.Itoa(rec.index)
	tags := map[string]string{
		"component": "route-emitter", "process_id": processGuid,
		"process_instance_id": rec.instanceGuid, "instance_id": index,
	}
	if r.logGuid != "" {
		tags["app_id"] = r.logGuid
	}
	cell := t.cells[rec.cellID]
	return messages.RegistryMessage{
		Host: rec.address, Port: uint16(hostPort), URIs: []string{uri}, App: r.logGuid,
		PrivateInstanceID: rec.instanceGuid, PrivateInstanceIndex: index, Tags: tags,
		EndpointUpdatedAtNs: rec.since, AvailabilityZone: cell.Zone, IsolationSegment: cell.IsolationSegment,
	}
}

// newer orders copies of one endpoint: the later change wins, ties by
// instance guid so the choice does not depend on map order.
func newer(rec record, prior messages.RegistryMessage) bool {
	if rec.since != prior.EndpointUpdatedAtNs {
		return rec.since > prior.EndpointUpdatedAtNs
	}
	return rec.instanceGuid > prior.PrivateInstanceID
}

func diff(before, after map[registration]Message) []Message {
	var out []Message
	for _, r := range sortedRegs(after) {
		if _, ok := before[r]; !ok {
			out = append(out, after[r])
		}
	}
	for _, r := range sortedRegs(before) {
		if _, ok := after[r]; !ok {
			m := before[r]
			m.Subject = messages.SubjectUnregister
			out = append(out, m)
		}
	}
	return out
}

func presenceOf(a *models.ActualLRP) string {
	if a.Presence == "" {
		return models.PresenceOrdinary
	}
	return a.Presence
}

// cfHostnames reads the "cf-router" routes value; anything unreadable routes nothing.
func cfHostnames(routes models.Routes) map[uint32][]string {
	out := map[uint32][]string{}
	raw, ok := routes[models.CFRouterKey]
	if !ok {
		return out
	}
	var cf []models.CFRoute
	if json.Unmarshal(raw, &cf) != nil {
		return out
	}
	for _, r := range cf {
		for _, h := range r.Hostnames {
			host, _ := messages.NormalizeHost(h)
			if host != "" {
				out[r.Port] = append(out[r.Port], host)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedRegs(m map[registration]Message) []registration {
	regs := make([]registration, 0, len(m))
	for r := range m {
		regs = append(regs, r)
	}
	sort.Slice(regs, func(i, j int) bool {
		a, b := regs[i], regs[j]
		if a.uri != b.uri {
			return a.uri < b.uri
		}
		if a.host != b.host {
			return a.host < b.host
		}
		return a.port < b.port
	})
	return regs
}
