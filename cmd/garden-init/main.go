// Command garden-init is pid 1 of every garden container (package initd).
// Garden bind-mounts it into each container; it is static, so it runs in any
// image.
package main

import "github.com/diego-runtime/diego/garden/initd"

func main() { initd.Main() }
