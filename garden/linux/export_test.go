package linux

// LogPrefix is logPrefix, for the specs.
var LogPrefix = logPrefix
