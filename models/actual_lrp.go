package models

// ActualLRP states (DESIGN 6.1).
const (
	ActualLRPStateUnclaimed = "UNCLAIMED"
	ActualLRPStateClaimed   = "CLAIMED"
	ActualLRPStateRunning   = "RUNNING"
	ActualLRPStateCrashed   = "CRASHED"
)

// ActualLRP presences.
const (
	PresenceOrdinary   = "ORDINARY"
	PresenceEvacuating = "EVACUATING"
	PresenceSuspect    = "SUSPECT"
)

// ActualLRPKey names one index of one desired LRP.
type ActualLRPKey struct {
	ProcessGuid string `json:"process_guid"`
	Index       int    `json:"index"`
	Domain      string `json:"domain"`
}

// ActualLRPInstanceKey names the container that holds an index.
type ActualLRPInstanceKey struct {
	InstanceGuid string `json:"instance_guid"`
	CellID       string `json:"cell_id"`
}

// Empty reports whether no instance holds the record.
func (k ActualLRPInstanceKey) Empty() bool { return k.InstanceGuid == "" && k.CellID == "" }

// PortMapping maps a container port to the host port that reaches it.
type PortMapping struct {
	ContainerPort uint32 `json:"container_port"`
	HostPort      uint32 `json:"host_port"`
}

// ActualLRPNetInfo says where a running instance can be reached.
type ActualLRPNetInfo struct {
	Address         string        `json:"address"`
	InstanceAddress string        `json:"instance_address"`
	Ports           []PortMapping `json:"ports"`
}

// ActualLRP is the record of one instance. It is flat on the wire (DESIGN 9).
type ActualLRP struct {
	ActualLRPKey
	ActualLRPInstanceKey
	ActualLRPNetInfo
	State          string `json:"state"`
	CrashCount     int    `json:"crash_count"`
	CrashReason    string `json:"crash_reason,omitempty"`
	PlacementError string `json:"placement_error,omitempty"`
	Since          int64  `json:"since"`
	Presence       string `json:"presence"`
	Evacuating     bool   `json:"evacuating"`
	Routable       bool   `json:"routable"`
	// Version is the desired LRP's version when the instance was claimed
	// (our extension; empty on records older than rolling changes).
	Version         string          `json:"version,omitempty"`
	ModificationTag ModificationTag `json:"modification_tag"`
}
