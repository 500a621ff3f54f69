package rep

import "github.com/google/uuid"

func newGuid() string { return uuid.NewString() }
