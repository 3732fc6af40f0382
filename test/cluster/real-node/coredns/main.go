// Command coredns is upstream CoreDNS with only the plugins the real node's cluster DNS uses
// (test/cluster/real-node/dns.ts writes its Corefile): no forward plugin, so no query ever leaves
// the cluster, and none of the cloud plugins, so the build stays small. Directives keep
// upstream's order (core/dnsserver/zdirectives.go), which decides the plugin chain.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	dnsserver.Directives = []string{"ready", "health", "errors", "log", "cache", "kubernetes"}
}

func main() { coremain.Run() }
