//go:build tools

// The command ensure.sh builds from the Go module proxy. This file only pins its module in go.mod;
// the build tag keeps it out of every build.
package pulumibuild

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
