package memory_test

import (
	"context"
	"fmt"

	"github.com/berthio/berth/memory"
)

// Two instances on one Shared behave as two replicas on one bucket: what
// one writes, the other reads.
func ExampleNew() {
	ctx := context.Background()
	sh := memory.NewShared()
	a, b := memory.New(sh), memory.New(sh)
	if err := a.PutContent(ctx, "/greeting", []byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	got, err := b.GetContent(ctx, "/greeting")
	fmt.Printf("%s %v\n", got, err)
	// Output: hello <nil>
}
