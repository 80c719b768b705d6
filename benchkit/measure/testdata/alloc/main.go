// Command alloc is the measured workload of benchkit's tests: it allocates and
// touches -mib MiB, does -work million steps of CPU work, holds the memory for -hold, and
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
	work := flag.Int("work", 0, "millions of steps of CPU work")
	fail := flag.Bool("fail", false, "exit 3")
	flag.Parse()
	start := time.Now()
	b := make([]byte, *mib<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	x := uint64(1)
	for i := 0; i < *work*1_000_000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	time.Sleep(*hold)
	fmt.Fprintln(os.Stderr, "alloc: done", x)
	fmt.Printf("{\"allocated-mib\": %d, \"elapsed-ms\": %d, \"touched\": %d}\n", *mib, time.Since(start).Milliseconds(), b[0])
	if *fail {
		os.Exit(3)
	}
}
