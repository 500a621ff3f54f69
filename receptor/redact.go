package receptor

import "github.com/diego-runtime/diego/models"

// image_password is write-only (DESIGN 9): the BBS keeps it, because a rep
// needs it to pull the image, and the receptor takes it out of every record it
// answers, streams or posts to a callback. These copy; the caller's record is
// unchanged.

func publicDesiredLRP(lrp *models.DesiredLRP) *models.DesiredLRP {
	if lrp == nil || lrp.ImagePassword == "" {
		return lrp
	}
	out := *lrp
	out.ImagePassword = ""
	return &out
}

func publicTask(task *models.Task) *models.Task {
	if task == nil || task.ImagePassword == "" {
		return task
	}
	out := *task
	out.ImagePassword = ""
	return &out
}

// publicEvent takes the write-only fields out of every record in ev.
func publicEvent(ev models.Event) models.Event {
	ev.DesiredLRP = publicDesiredLRP(ev.DesiredLRP)
	ev.DesiredLRPBefore = publicDesiredLRP(ev.DesiredLRPBefore)
	ev.DesiredLRPAfter = publicDesiredLRP(ev.DesiredLRPAfter)
	ev.Task = publicTask(ev.Task)
	ev.TaskBefore = publicTask(ev.TaskBefore)
	ev.TaskAfter = publicTask(ev.TaskAfter)
	return ev
}
