package server

// UnplacedPaths are the method paths the access policy does not name: each
// would be refused to every role.
func UnplacedPaths() []string {
	var missing []string
	for path := range methods() {
		if _, ok := policy[path]; !ok {
			missing = append(missing, path)
		}
	}
	return missing
}
