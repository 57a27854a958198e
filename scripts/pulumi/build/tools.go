//go:build tools

// The commands ensure.sh builds from the Go module proxy. This file only pins their modules in
// go.mod; the build tag keeps it out of every build.
package pulumibuild

import (
	_ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
