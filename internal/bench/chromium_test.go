package bench

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/plotutil"
)

// TestHTMLReportRendersInChromium opens an HTML report in headless
// Chromium, takes a screenshot and counts the pixels drawn in the charts'
// line colours: the report must render offline, charts included. It skips
// without Chromium (Debian's package chromium, which scripts/test.sh
// installs), except under CI=true.
func TestHTMLReportRendersInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; scripts/test.sh installs it (CI=true: the check may not be skipped)")
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	start := time.Now()
	r := NewRecorder(start)
	for i := range 400 {
		at := start.Add(time.Duration(i) * 25 * time.Millisecond)
		r.Observe("push", at, time.Duration(5+i%40)*time.Millisecond, 4<<20, 0, nil)
		r.Observe("pull", at, time.Duration(1+i%9)*time.Millisecond, 4<<20, time.Millisecond, nil)
	}
	res := &Result{RunID: "render", Hosts: []string{"h"}, Mode: "driver", Driver: "nasfs"}
	r.Result(res, start.Add(10*time.Second))

	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	require.NoError(t, err)
	require.NoError(t, res.WriteHTML(f))
	require.NoError(t, f.Close())

	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1000,1600",
		"--screenshot="+shot, "file://"+page)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "chromium: %s", out)

	sf, err := os.Open(shot)
	require.NoError(t, err)
	defer sf.Close()
	img, err := png.Decode(sf)
	require.NoError(t, err)
	// The first two line colours are push and pull in every chart.
	want := map[[3]uint32]int{}
	for i := range 2 {
		r, g, b, _ := plotutil.Color(i).RGBA()
		want[[3]uint32{r >> 8, g >> 8, b >> 8}] = 0
	}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			k := [3]uint32{r >> 8, g >> 8, b >> 8}
			if _, ok := want[k]; ok {
				want[k]++
			}
		}
	}
	for c, n := range want {
		if n < 200 {
			t.Errorf("colour %v: %d pixels in the screenshot, want the charts' lines (>= 200)", c, n)
		}
	}
	t.Logf("chart line pixels by colour: %v (screenshot %s)", want, shot)
}
