package bbs

import (
	"strconv"

	"github.com/diego-runtime/diego/models"
)

// Key layout (docs/bbs.md). Every record is one JSON value.
//
//	/diego/v1/desired/schedule/<process_guid>      DesiredLRPSchedulingInfo
//	/diego/v1/desired/run/<process_guid>           the whole DesiredLRP
//	/diego/v1/actual/<process_guid>/<index>/<slot> ActualLRP; slot is ordinary|evacuating|suspect
//	/diego/v1/tasks/<task_guid>                    Task
//	/diego/v1/cells/<cell_id>                      CellPresence, bound to the cell's lease
//	/diego/v1/domains/<domain>                     Domain, bound to a lease when it has a TTL
//	/diego/v1/meta/version                         reserved for layout metadata
//
// The two desired keys are always written in one transaction; events come from
// the run key only, so one logical change yields one event.
const (
	rootPrefix     = "/diego/v1/"
	desiredPrefix  = rootPrefix + "desired/"
	schedulePrefix = desiredPrefix + "schedule/"
	runPrefix      = desiredPrefix + "run/"
	actualPrefix   = rootPrefix + "actual/"
	taskPrefix     = rootPrefix + "tasks/"
	cellPrefix     = rootPrefix + "cells/"
	domainPrefix   = rootPrefix + "domains/"
	// versionKey is reserved for layout metadata; Ping reads it.
	versionKey = rootPrefix + "meta/version"
)

// Slots of one actual LRP index, one per presence.
const (
	slotOrdinary   = "ordinary"
	slotEvacuating = "evacuating"
	slotSuspect    = "suspect"
)

func scheduleKey(guid string) string { return schedulePrefix + guid }
func runKey(guid string) string      { return runPrefix + guid }
func taskKey(guid string) string     { return taskPrefix + guid }
func cellKey(id string) string       { return cellPrefix + id }
func domainKey(name string) string   { return domainPrefix + name }

// actualGuidPrefix covers every index of a process; the trailing slash keeps
// "web" from matching "web-2".
func actualGuidPrefix(guid string) string { return actualPrefix + guid + "/" }

func actualIndexPrefix(key models.ActualLRPKey) string {
	return actualGuidPrefix(key.ProcessGuid) + strconv.Itoa(key.Index) + "/"
}

func actualKey(key models.ActualLRPKey, slot string) string {
	return actualIndexPrefix(key) + slot
}
