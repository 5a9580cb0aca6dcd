// Command testapp is the small HTTP application Skiff's e2e tests run in pods. It can
// echo requests, print its environment, sleep, exit with a code, fail its probes on
// demand and allocate memory, driven by flags (or the TESTAPP_ARGS environment
// variable, split on spaces) and by HTTP endpoints.
//
//	GET /            "hello from <hostname>"
//	GET /echo?msg=x  x
//	GET /env         the environment, one KEY=value per line
//	GET /healthz     200, or 500 once liveness failing is on (flag or /fail/liveness)
//	GET /readyz      200, or 503 while readiness failing is on (flag or /fail/readiness)
//	POST|GET /fail/liveness, /fail/readiness, /ok/liveness, /ok/readiness
//	GET /exit?code=N exit the process with code N
//	GET /alloc?mb=N  allocate and touch N MiB
//	GET /resolve?name=N  the addresses N resolves to from inside the pod, one a line
//	GET /get?url=U   fetch U from inside the pod and relay status and body (pod-to-pod tests)
//	GET /file?path=P the content of file P inside the container (404 if missing)
//	GET /uid         "uid=U gid=G groups=G1,G2" of the serving process
//
// As there is no shell in the image, a few tool modes serve exec, exec probes,
// hooks and init containers: `testapp env`, `testapp echo ARGS...`,
// `testapp cat FILE`, `testapp exit N`, `testapp id` (as /uid),
// `testapp append FILE TEXT...` (appends one
// line, creating the file).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	listen          string
	exitAfter       time.Duration
	exitCode        int
	sleep           bool
	allocMB         int
	failLiveness    bool
	failLiveAfter   time.Duration
	failReadiness   bool
	termFile        string
	termDelay       time.Duration
	printEnvOnStart bool
}

var (
	liveFailing  atomic.Bool
	readyFailing atomic.Bool
	hogMu        sync.Mutex
	hog          [][]byte
)

func main() {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		os.Exit(tool(os.Args[1], os.Args[2:]))
	}
	o := parse()
	fmt.Printf("testapp starting pid=%d args=%q\n", os.Getpid(), os.Args[1:])
	if o.printEnvOnStart {
		for _, kv := range sortedEnv() {
			fmt.Println(kv)
		}
	}
	liveFailing.Store(o.failLiveness)
	readyFailing.Store(o.failReadiness)
	go handleSignals(o)
	if o.allocMB > 0 {
		allocate(o.allocMB)
		fmt.Printf("allocated %d MiB\n", o.allocMB)
	}
	if o.failLiveAfter > 0 {
		time.AfterFunc(o.failLiveAfter, func() { liveFailing.Store(true); fmt.Println("liveness now failing") })
	}
	if o.exitAfter >= 0 {
		time.AfterFunc(o.exitAfter, func() {
			fmt.Printf("exiting with code %d\n", o.exitCode)
			os.Exit(o.exitCode)
		})
	}
	if o.sleep || o.listen == "" {
		select {}
	}
	fmt.Printf("testapp listening on %s\n", o.listen)
	if err := http.ListenAndServe(o.listen, routes()); err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
}

func parse() options {
	var o options
	fs := flag.NewFlagSet("testapp", flag.ExitOnError)
	fs.StringVar(&o.listen, "listen", ":8080", "HTTP listen address (empty: no server)")
	fs.DurationVar(&o.exitAfter, "exit-after", -1, "exit after this long (with -exit-code); negative: never")
	fs.IntVar(&o.exitCode, "exit-code", 0, "exit code used by -exit-after")
	fs.BoolVar(&o.sleep, "sleep", false, "do nothing but sleep (no HTTP server)")
	fs.IntVar(&o.allocMB, "alloc-mb", 0, "allocate and touch this many MiB at start")
	fs.BoolVar(&o.failLiveness, "fail-liveness", false, "/healthz fails from the start")
	fs.DurationVar(&o.failLiveAfter, "fail-liveness-after", 0, "/healthz starts failing after this long")
	fs.BoolVar(&o.failReadiness, "fail-readiness", false, "/readyz fails from the start")
	fs.StringVar(&o.termFile, "term-file", "", "on SIGTERM, append a line to this file")
	fs.DurationVar(&o.termDelay, "term-delay", 0, "on SIGTERM, wait this long before exiting")
	fs.BoolVar(&o.printEnvOnStart, "print-env", false, "print the environment at start")
	args := os.Args[1:]
	if extra := os.Getenv("TESTAPP_ARGS"); extra != "" {
		args = append(strings.Fields(extra), args...)
	}
	_ = fs.Parse(args)
	return o
}

func handleSignals(o options) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	s := <-sigs
	fmt.Printf("received %v\n", s)
	if o.termFile != "" {
		host, _ := os.Hostname()
		f, err := os.OpenFile(o.termFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %v %s\n", host, s, time.Now().UTC().Format(time.RFC3339Nano))
			f.Close()
		}
	}
	time.Sleep(o.termDelay)
	os.Exit(0)
}

func routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.URL.Query().Get("msg")) })
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, strings.Join(sortedEnv(), "\n"))
	})
	mux.HandleFunc("/resolve", resolve)
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/uid", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, identity()) })
	mux.HandleFunc("/get", fetch)
	mux.HandleFunc("/healthz", flagHandler(&liveFailing, http.StatusInternalServerError))
	mux.HandleFunc("/readyz", flagHandler(&readyFailing, http.StatusServiceUnavailable))
	mux.HandleFunc("/fail/liveness", setter(&liveFailing, true))
	mux.HandleFunc("/fail/readiness", setter(&readyFailing, true))
	mux.HandleFunc("/ok/liveness", setter(&liveFailing, false))
	mux.HandleFunc("/ok/readiness", setter(&readyFailing, false))
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		fmt.Fprintf(w, "exiting with code %d\n", code)
		fmt.Printf("exiting with code %d\n", code)
		go func() { time.Sleep(50 * time.Millisecond); os.Exit(code) }()
	})
	mux.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		allocate(mb)
		fmt.Fprintf(w, "allocated %d MiB\n", mb)
	})
	return mux
}

func flagHandler(failing *atomic.Bool, code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "failing on demand", code)
			return
		}
		fmt.Fprintln(w, "ok")
	}
}

func setter(b *atomic.Bool, v bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b.Store(v)
		fmt.Fprintln(w, "ok")
	}
}

// allocate keeps n MiB alive and writes every page, so the memory is really resident.
func allocate(n int) {
	hogMu.Lock()
	defer hogMu.Unlock()
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		hog = append(hog, b)
	}
}

func sortedEnv() []string {
	env := os.Environ()
	sort.Strings(env)
	return env
}

// resolve looks a name up with the pod's own resolv.conf (cluster DNS, search
// domains), so tests see what an application in the pod sees.
func resolve(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, r.URL.Query().Get("name"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	sort.Strings(addrs)
	fmt.Fprintln(w, strings.Join(addrs, "\n"))
}

// fetch makes a GET from inside the pod's network namespace and relays the answer;
// a failed connection is 502 with the error.
func fetch(w http.ResponseWriter, r *http.Request) {
	// A new connection each time, so every request is balanced anew by a Service.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(r.URL.Query().Get("url"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// identity is "uid=U gid=G groups=G1,G2" of this process.
func identity() string {
	groups, _ := os.Getgroups()
	gs := make([]string, len(groups))
	for i, g := range groups {
		gs[i] = strconv.Itoa(g)
	}
	return fmt.Sprintf("uid=%d gid=%d groups=%s", os.Getuid(), os.Getgid(), strings.Join(gs, ","))
}

// tool runs a one-shot subcommand and returns its exit code.
func tool(name string, args []string) int {
	switch name {
	case "env":
		fmt.Println(strings.Join(sortedEnv(), "\n"))
	case "echo":
		fmt.Println(strings.Join(args, " "))
	case "cat":
		for _, f := range args {
			b, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			os.Stdout.Write(b)
		}
	case "id":
		fmt.Println(identity())
	case "append":
		if len(args) < 1 {
			fmt.Fprintln(os.Stderr, "testapp append: FILE TEXT...")
			return 2
		}
		f, err := os.OpenFile(args[0], os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o666)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_, err = fmt.Fprintln(f, strings.Join(args[1:], " "))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "exit":
		code := 0
		if len(args) > 0 {
			code, _ = strconv.Atoi(args[0])
		}
		return code
	default:
		fmt.Fprintf(os.Stderr, "testapp: unknown command %q\n", name)
		return 2
	}
	return 0
}
