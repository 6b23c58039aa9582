// Command ossserver serves the Aliyun OSS protocol from a local directory,
// checking V1 and V4 signatures, for tests of OSS clients (the berth oss
// driver's among them) without an Aliyun account. See package
// internal/ossserver for what it speaks.
//
//	ossserver -dir /tmp/oss -addr 127.0.0.1:9300 -bucket registry
//
// The key pair comes from OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET, or
// is generated and printed to stdout once, as KEY=value lines a shell can
// source, with the endpoint: the secret is never logged.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/berthio/berth/internal/ossserver"
)

func main() {
	var (
		dir     = flag.String("dir", "", "data directory (required; kept across restarts)")
		addr    = flag.String("addr", "127.0.0.1:9300", "listen address")
		region  = flag.String("region", ossserver.DefaultRegion, "region V4 signatures must name")
		domain  = flag.String("domain", ossserver.DefaultDomain, "base host name of virtual-host addressing (<bucket>.<domain>)")
		buckets = flag.String("bucket", "", "comma-separated buckets to create at start")
		quiet   = flag.Bool("quiet", false, "no log line per request")
	)
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "ossserver: -dir is required")
		flag.Usage()
		os.Exit(2)
	}
	id, secret := os.Getenv("OSS_ACCESS_KEY_ID"), os.Getenv("OSS_ACCESS_KEY_SECRET")
	generated := id == "" || secret == ""
	if generated {
		id, secret = "LTAI"+randomHex(10), randomHex(20)
	}
	cfg := ossserver.Config{
		Dir:         *dir,
		Credentials: []ossserver.Credential{{AccessKeyID: id, AccessKeySecret: secret}},
		Region:      *region,
		Domain:      *domain,
	}
	if !*quiet {
		cfg.Logf = log.Printf
	}
	srv, err := ossserver.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range strings.Split(*buckets, ",") {
		if b = strings.TrimSpace(b); b != "" {
			if err := srv.CreateBucket(b); err != nil {
				log.Fatal(err)
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = srv.ListenAndServe(ctx, *addr, func(url string) {
		fmt.Printf("OSS_ENDPOINT=%s\nOSS_REGION=%s\n", url, *region)
		if generated {
			fmt.Printf("OSS_ACCESS_KEY_ID=%s\nOSS_ACCESS_KEY_SECRET=%s\n", id, secret)
		}
		log.Printf("ossserver: serving %s on %s (region %s)", *dir, url, *region)
	})
	if err != nil {
		log.Fatal(err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
