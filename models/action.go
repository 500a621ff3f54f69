package models

// Action is a node of an action tree; on the wire it is an object with exactly
// one key naming its kind. Exactly one field is set.
type Action struct {
	Run          *RunAction          `json:"run,omitempty"`
	Download     *DownloadAction     `json:"download,omitempty"`
	Upload       *UploadAction       `json:"upload,omitempty"`
	EmitProgress *EmitProgressAction `json:"emit_progress,omitempty"`
	Timeout      *TimeoutAction      `json:"timeout,omitempty"`
	Try          *TryAction          `json:"try,omitempty"`
	Parallel     *ParallelAction     `json:"parallel,omitempty"`
	Serial       *SerialAction       `json:"serial,omitempty"`
	Codependent  *CodependentAction  `json:"codependent,omitempty"`

	// malformed says why a decoded node is not one known kind ("unknown
	// action kind \"x\""); validation reports it at the node's path.
	malformed string
}

// ResourceLimits are per-process rlimits.
type ResourceLimits struct {
	Nofile *uint64 `json:"nofile,omitempty"`
}

// RunAction runs a process in the container.
type RunAction struct {
	Path              string         `json:"path"`
	Args              []string       `json:"args,omitempty"`
	Dir               string         `json:"dir,omitempty"`
	Env               []EnvVar       `json:"env,omitempty"`
	User              string         `json:"user"`
	ResourceLimits    ResourceLimits `json:"resource_limits"`
	LogSource         string         `json:"log_source,omitempty"`
	SuppressLogOutput bool           `json:"suppress_log_output,omitempty"`
}

// DownloadAction fetches From (a tarball URL) and extracts it at To. With a
// CacheKey, a cell fetches that key once and serves later downloads of it
// from its cache.
type DownloadAction struct {
	Artifact          string `json:"artifact,omitempty"`
	From              string `json:"from"`
	To                string `json:"to"`
	CacheKey          string `json:"cache_key"`
	LogSource         string `json:"log_source,omitempty"`
	User              string `json:"user"`
	ChecksumAlgorithm string `json:"checksum_algorithm,omitempty"`
	ChecksumValue     string `json:"checksum_value,omitempty"`
}

// UploadAction streams From out of the container and PUTs it to To.
type UploadAction struct {
	Artifact  string `json:"artifact,omitempty"`
	From      string `json:"from"`
	To        string `json:"to"`
	LogSource string `json:"log_source,omitempty"`
	User      string `json:"user"`
}

// EmitProgressAction logs messages around Action.
type EmitProgressAction struct {
	Action               *Action `json:"action"`
	StartMessage         string  `json:"start_message"`
	SuccessMessage       string  `json:"success_message"`
	FailureMessagePrefix string  `json:"failure_message_prefix"`
	LogSource            string  `json:"log_source,omitempty"`
}

// TimeoutAction cancels Action and fails after Timeout nanoseconds (the 2015
// wire format: a Go time.Duration as a number).
type TimeoutAction struct {
	Action    *Action `json:"action"`
	Timeout   int64   `json:"timeout"`
	LogSource string  `json:"log_source,omitempty"`
}

// TryAction runs Action and swallows its failure.
type TryAction struct {
	Action    *Action `json:"action"`
	LogSource string  `json:"log_source,omitempty"`
}

// ParallelAction runs all at once and fails if any failed.
type ParallelAction struct {
	Actions   []*Action `json:"actions"`
	LogSource string    `json:"log_source,omitempty"`
}

// SerialAction runs in order and stops at the first failure.
type SerialAction struct {
	Actions   []*Action `json:"actions"`
	LogSource string    `json:"log_source,omitempty"`
}

// CodependentAction runs all at once; when any exits the rest are cancelled.
type CodependentAction struct {
	Actions   []*Action `json:"actions"`
	LogSource string    `json:"log_source,omitempty"`
}
