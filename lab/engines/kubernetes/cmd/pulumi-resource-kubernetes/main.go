// Copyright 2026, the ameide-secrets authors. Licensed under the Apache License, Version 2.0.
//
// The Kubernetes provider's entry point, as in the provider module's own
// cmd/pulumi-resource-kubernetes/main.go: serve the provider with its schema and Terraform mapping.
//
// Why ours and not that package: it embeds schema-embed.json and terraform-mapping-embed.json, which
// the provider's repository generates at build time and does not publish, and the Go command does
// not let a build add files to a package inside the module cache. engines/build.sh runs the module's
// own generator (cmd/pulumi-resource-kubernetes/generate.go) on the module's schema.json and
// terraform-mapping.json and supplies the two results to this package with `go build -overlay`, so
// nothing generated is written here. Without that overlay this package does not build.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
