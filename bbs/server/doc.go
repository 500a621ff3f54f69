// Package server is the BBS's HTTP face: an http.Handler that serves every
// method of client.API from any implementation of it (in production the
// etcd-backed bbs.DB). The BBS is stateless; run several against one etcd.
//
// Every method is a POST of a client.Request answering 200 with a
// client.Response holding only that method's results. Failures answer the
// status of the models.Error with body {"name","message"}; errors that are not
// typed answer 500 UnknownError, and a request that runs past the request
// timeout answers 503 ServiceUnavailable. Bodies are capped (MaxBodyBytes).
//
//	Method, path                          Request fields                    Response fields
//	GET  /ping                            -                                 200 when etcd answers, else 503
//	GET  /v1/events?after=ID              -                                 text/event-stream (see below)
//	POST /v1/store/health                 -                                 store_health (etcd alarms, db size, quota)
//	POST /v1/domains/upsert               domain, ttl_seconds               -
//	POST /v1/domains/list                 -                                 domains
//	POST /v1/cells/register               cell_presence, ttl_seconds        lease_id
//	POST /v1/cells/heartbeat              cell_id, lease_id                 -
//	POST /v1/cells/list                   -                                 cells
//	POST /v1/desired_lrps/desire          desired_lrp                       -
//	POST /v1/desired_lrps/update          process_guid, update              -
//	POST /v1/desired_lrps/remove          process_guid                      -
//	POST /v1/desired_lrps/list            desired_lrp_filter                desired_lrps
//	POST /v1/desired_lrps/get             process_guid                      desired_lrp
//	POST /v1/desired_lrps/scheduling_infos desired_lrp_filter               scheduling_infos
//	POST /v1/actual_lrps/list             actual_lrp_filter                 actual_lrps
//	POST /v1/actual_lrps/claim            actual_lrp_key, instance_key      -
//	POST /v1/actual_lrps/start            actual_lrp_key, instance_key, net_info, routable
//	POST /v1/actual_lrps/crash            actual_lrp_key, instance_key, reason
//	POST /v1/actual_lrps/remove           actual_lrp_key, instance_key      -
//	POST /v1/actual_lrps/fail             actual_lrp_key, reason            -
//	POST /v1/actual_lrps/retire           actual_lrp_key                    -
//	POST /v1/actual_lrps/kill             actual_lrp_key                    -
//	POST /v1/actual_lrps/evacuate_running actual_lrp_key, instance_key, net_info  keep_container
//	POST /v1/actual_lrps/evacuate_claimed actual_lrp_key, instance_key      keep_container
//	POST /v1/actual_lrps/evacuate_crashed actual_lrp_key, instance_key, reason
//	POST /v1/actual_lrps/evacuate_stopped actual_lrp_key, instance_key      -
//	POST /v1/actual_lrps/remove_evacuating actual_lrp_key, instance_key     -
//	POST /v1/actual_lrps/create_unclaimed process_guid, indices             -
//	POST /v1/actual_lrps/auction          actual_lrp_keys                   -
//	POST /v1/actual_lrps/restart_crashed  actual_lrp_key                    -
//	POST /v1/actual_lrps/mark_suspect     actual_lrp_key                    -
//	POST /v1/actual_lrps/remove_suspect   actual_lrp_key                    -
//	POST /v1/actual_lrps/revert_suspect   actual_lrp_key                    -
//	POST /v1/tasks/desire                 task_guid, domain, task_definition
//	POST /v1/tasks/list                   task_filter                       tasks
//	POST /v1/tasks/get                    task_guid                         task
//	POST /v1/tasks/start                  task_guid, cell_id                should_start
//	POST /v1/tasks/complete               task_guid, cell_id, failed, reason, result
//	POST /v1/tasks/cancel                 task_guid                         -
//	POST /v1/tasks/fail                   task_guid, reason                 -
//	POST /v1/tasks/reject                 task_guid, reason                 -
//	POST /v1/tasks/resolving              task_guid                         -
//	POST /v1/tasks/delete                 task_guid                         -
//	POST /v1/tasks/auction                task_guids                        -
//	POST /v1/tasks/revert_resolving       task_guid                         -
//
// The event stream is server-sent events: for each change an "id:" line (the
// etcd revision), an "event:" line (models.EventType*) and a "data:" line with
// the body, written by client.WriteEvent, flushed one by one. after=0 starts
// from now; after=N replays every event after N while etcd keeps the history.
// The stream sends a ": keepalive" comment when idle and ends when the client
// goes away.
package server
