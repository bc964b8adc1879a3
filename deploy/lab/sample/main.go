// podferry-sample is the lab's stateful workload: one binary, three roles, one per container.
// Each role keeps its state only in memory, so a restore that loses state is visible from outside:
//
//	counter  ticks every 10 ms; GET / returns the count, the wall-clock time of the last tick and the
//	         longest gap between two ticks (a freeze, checkpoint and restore shows up there)
//	kv       an in-memory key/value store; PUT/GET /kv/<key>
//	ballast  fills BALLAST_MIB of memory with random bytes; GET / returns their SHA-256
//
// Any role also holds BALLAST_MIB of random memory when set (the ballast role's default is 16), so a
// benchmark can give every container of a pod the same state size.
// A restarted (not restored) container comes back with count 0, no keys and a new checksum.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: podferry-sample counter|kv|ballast")
	}
	port := envOr("PORT", map[string]string{"counter": "8080", "kv": "8081", "ballast": "8082"}[os.Args[1]])
	var handler http.Handler
	switch os.Args[1] {
	case "counter":
		handler = newCounter(newBallast(envInt("BALLAST_MIB", 0)))
	case "kv":
		handler = newStore(newBallast(envInt("BALLAST_MIB", 0)))
	case "ballast":
		handler = newBallast(envInt("BALLAST_MIB", 16))
	default:
		log.Fatalf("unknown role %q: use counter, kv or ballast", os.Args[1])
	}
	// Go listens with MPTCP by default since 1.24, and CRIU cannot dump MPTCP sockets: plain TCP keeps the
	// process checkpointable (the same as GODEBUG=multipathtcp=0).
	var listenConfig net.ListenConfig
	listenConfig.SetMultipathTCP(false)
	listener, err := listenConfig.Listen(context.Background(), "tcp", ":"+port)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%s listening on :%s", os.Args[1], port)
	log.Fatal(http.Serve(listener, handler))
}

type counter struct {
	mu         sync.Mutex
	count      uint64
	lastTick   time.Time
	started    time.Time
	longestGap time.Duration
	gapEnded   time.Time
	ballast    *ballast
}

func newCounter(b *ballast) *counter {
	c := &counter{started: time.Now(), lastTick: time.Now(), ballast: b}
	go func() {
		for range time.Tick(10 * time.Millisecond) {
			c.mu.Lock()
			now := time.Now()
			// Wall-clock time (Round(0) drops the monotonic reading): a restored process lives in a time
			// namespace whose monotonic clock hides the time it spent checkpointed.
			if gap := now.Round(0).Sub(c.lastTick.Round(0)); gap > c.longestGap {
				c.longestGap, c.gapEnded = gap, now
			}
			c.count++
			c.lastTick = now
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *counter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	writeJSON(w, map[string]any{
		"count":     c.count,
		"lastTick":  c.lastTick.UTC().Format(time.RFC3339Nano),
		"startedAt": c.started.UTC().Format(time.RFC3339Nano),
		"now":       time.Now().UTC().Format(time.RFC3339Nano),
		// The workload's own view of a migration's downtime: no tick ran in this gap.
		"longestGapMs":    c.longestGap.Seconds() * 1000,
		"longestGapEnded": c.gapEnded.UTC().Format(time.RFC3339Nano),
		"ballastMiB":      len(c.ballast.memory) >> 20,
	})
}

type store struct {
	mu      sync.Mutex
	data    map[string]string
	ballast *ballast
}

func newStore(b *ballast) *store { return &store{data: map[string]string{}, ballast: b} }

func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, "/kv/")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.URL.Path == "/" || r.URL.Path == "/kv/":
		writeJSON(w, s.data)
	case ok && r.Method == http.MethodPut:
		value, _ := io.ReadAll(r.Body)
		s.data[key] = string(value)
		w.WriteHeader(http.StatusNoContent)
	case ok && r.Method == http.MethodGet:
		value, found := s.data[key]
		if !found {
			http.Error(w, fmt.Sprintf("no key %q", key), http.StatusNotFound)
			return
		}
		io.WriteString(w, value)
	default:
		http.Error(w, "use GET /, PUT /kv/<key> or GET /kv/<key>", http.StatusBadRequest)
	}
}

type ballast struct {
	memory   []byte
	checksum string
}

func newBallast(mib int) *ballast {
	b := &ballast{memory: make([]byte, mib<<20)}
	rand.Read(b.memory)
	sum := sha256.Sum256(b.memory)
	b.checksum = hex.EncodeToString(sum[:])
	return b
}

// The checksum is recomputed on every request, so memory that changed is caught, not just remembered.
func (b *ballast) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	sum := sha256.Sum256(b.memory)
	writeJSON(w, map[string]any{
		"mib":          len(b.memory) >> 20,
		"checksum":     hex.EncodeToString(sum[:]),
		"initialMatch": hex.EncodeToString(sum[:]) == b.checksum,
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func envInt(name string, fallback int) int {
	n, err := strconv.Atoi(envOr(name, strconv.Itoa(fallback)))
	if err != nil || n < 0 {
		log.Fatalf("%s=%q: want a whole number of MiB", name, os.Getenv(name))
	}
	return n
}
