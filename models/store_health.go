package models

// Alarm names etcd raises (etcd's AlarmType), as StoreHealth reports them.
const (
	// AlarmNoSpace: the database reached its space quota; etcd refuses every
	// write until the alarm is disarmed.
	AlarmNoSpace = "NOSPACE"
	// AlarmCorrupt: a member's data disagrees with the others'.
	AlarmCorrupt = "CORRUPT"
)

// StoreHealth is what the BBS knows of its etcd's space: the alarms raised
// and the database's size against its quota (the largest of any member).
type StoreHealth struct {
	// Writable is false while any alarm is raised: etcd refuses writes.
	Writable bool `json:"writable"`
	// Alarms are the alarm names raised on any member (sorted, no repeats);
	// never nil.
	Alarms []string `json:"alarms"`
	// DBSizeBytes is the database file's size, which is what the quota
	// bounds.
	DBSizeBytes int64 `json:"db_size_bytes"`
	// DBSizeInUseBytes is the part of it holding live data; the rest is
	// free pages that a defragmentation gives back.
	DBSizeInUseBytes int64 `json:"db_size_in_use_bytes"`
	// QuotaBytes is the space quota (0 when etcd does not say).
	QuotaBytes int64 `json:"quota_bytes"`
}

// HasAlarm says whether the alarm named is raised.
func (h StoreHealth) HasAlarm(name string) bool {
	for _, a := range h.Alarms {
		if a == name {
			return true
		}
	}
	return false
}
