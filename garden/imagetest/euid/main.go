// Command euid prints the effective uid it runs with. Installed setuid-root
// in a test image, it shows whether the setuid bit took effect.
package main

import (
	"fmt"
	"os"
)

func main() { fmt.Println(os.Geteuid()) }
