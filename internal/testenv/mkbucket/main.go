// Command mkbucket creates an S3 bucket or a Swift container for the bench
// runs of scripts/bench-servers.sh: Berth's drivers never create them.
//
//	mkbucket -s3 http://127.0.0.1:9000 -access KEY -secret SECRET -bucket NAME
//	mkbucket -swift http://127.0.0.1:8080/auth/v1.0 -user acct:user -secret KEY -bucket NAME
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/ncw/swift/v2"
)

func main() {
	s3ep := flag.String("s3", "", "S3 endpoint")
	swiftAuth := flag.String("swift", "", "Swift v1 auth URL")
	access := flag.String("access", "", "S3 access key")
	user := flag.String("user", "", "Swift user")
	secret := flag.String("secret", "", "S3 secret or Swift key")
	bucket := flag.String("bucket", "", "bucket or container to create")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	switch {
	case *bucket == "":
		err = fmt.Errorf("-bucket is required")
	case *s3ep != "":
		c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(*s3ep), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(*access, *secret, "")})
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket})
	case *swiftAuth != "":
		c := &swift.Connection{AuthUrl: *swiftAuth, UserName: *user, ApiKey: *secret}
		if err = c.Authenticate(ctx); err == nil {
			err = c.ContainerCreate(ctx, *bucket, nil)
		}
	default:
		err = fmt.Errorf("give -s3 or -swift")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkbucket:", err)
		os.Exit(1)
	}
}
