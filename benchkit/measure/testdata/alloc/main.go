// Command alloc is the measured workload of benchkit's tests: it allocates and
// touches -mib MiB, spins the CPU for -spin, holds the memory for -hold, and
// prints a JSON report line.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	mib := flag.Int("mib", 16, "MiB to allocate and touch")
	hold := flag.Duration("hold", 100*time.Millisecond, "how long to hold the memory")
	spin := flag.Duration("spin", 0, "how long to busy the CPU")
	fail := flag.Bool("fail", false, "exit 3")
	flag.Parse()
	start := time.Now()
	b := make([]byte, *mib<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	x := 0
	for t := time.Now(); time.Since(t) < *spin; {
		x++
	}
	time.Sleep(*hold)
	fmt.Fprintln(os.Stderr, "alloc: done", x)
	fmt.Printf("{\"allocated-mib\": %d, \"elapsed-ms\": %d, \"touched\": %d}\n", *mib, time.Since(start).Milliseconds(), b[0])
	if *fail {
		os.Exit(3)
	}
}
