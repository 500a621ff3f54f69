// Command diego runs a whole cluster on one machine (`diego up`) and drives a
// cluster through its receptor API.
package main

import (
	"os"

	"github.com/diego-runtime/diego/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
