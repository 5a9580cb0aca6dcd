package server

import (
	"log"
	"net/http"
	_ "net/http/pprof" // profiles on SKIFF_PPROF_ADDR only
	"os"
)

// startPprof serves Go's profiles on $SKIFF_PPROF_ADDR (e.g. 127.0.0.1:6060) when set:
// a debugging aid for performance work, off by default.
func startPprof() {
	addr := os.Getenv("SKIFF_PPROF_ADDR")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			log.Printf("pprof: %v", err)
		}
	}()
}
