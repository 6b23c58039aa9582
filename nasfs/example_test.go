package nasfs_test

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/berthio/berth/nasfs"
)

// Open an instance on a shared directory, stream an upload into it and
// read it back. Every replica opens the same Root.
func ExampleNew() {
	ctx := context.Background()
	root, err := os.MkdirTemp("", "nasfs-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(root)

	d, err := nasfs.New(nasfs.Config{Root: root})
	if err != nil {
		fmt.Println(err)
		return
	}
	w, err := d.Writer(ctx, "/blobs/layer", false)
	if err != nil {
		fmt.Println(err)
		return
	}
	io.WriteString(w, "layer bytes")
	if err := w.Commit(ctx); err != nil {
		fmt.Println(err)
		return
	}
	rc, err := d.Reader(ctx, "/blobs/layer", 6)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rc.Close()
	rest, _ := io.ReadAll(rc)
	fmt.Printf("%s\n", rest)

	// The same directory through a URL, as a config file would name it.
	_, err = nasfs.Factory.OpenURL(ctx, &url.URL{Scheme: "nasfs", Path: root}) // nasfs:///tmp/...
	fmt.Println(err)
	// Output:
	// bytes
	// <nil>
}
