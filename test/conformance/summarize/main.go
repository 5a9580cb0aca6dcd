// Command summarize reads the JUnit report of a conformance run and writes its
// summary into docs/conformance.md: one row per run in the "Runs" table, and the
// latest run's per-SIG table and failing tests between generated-section markers.
// Everything else in the document (the root-cause groups) is left as written.
//
//	go run ./test/conformance/summarize -junit DIR/junit_01.xml -focus REGEX \
//	    -k8s v1.37.2 -commit abc1234 -wall 41m -doc docs/conformance.md
package main

import (
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// junit is the part of ginkgo's JUnit report this reads.
type junit struct {
	Suites []struct {
		Cases []testCase `xml:"testcase"`
	} `xml:"testsuite"`
}

type testCase struct {
	Name    string   `xml:"name,attr"`
	Status  string   `xml:"status,attr"`
	Skipped *message `xml:"skipped"`
	Failure *message `xml:"failure"`
	Error   *message `xml:"error"`
}

type message struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

type counts struct{ total, passed, failed, skipped int }

func (c *counts) add(state string) {
	c.total++
	switch state {
	case "passed":
		c.passed++
	case "skipped":
		c.skipped++
	default:
		c.failed++
	}
}

type result struct {
	name, sig, state, reason string
}

var sigRE = regexp.MustCompile(`\[sig-[a-z0-9-]+\]`)

func main() {
	junitPath := flag.String("junit", "", "ginkgo JUnit report")
	focus := flag.String("focus", `\[Conformance\]`, "the run's focus regex: only matching tests count")
	k8s := flag.String("k8s", "", "Kubernetes version of the suite")
	commit := flag.String("commit", "", "Skiff commit under test")
	wall := flag.String("wall", "", "wall time of the run")
	doc := flag.String("doc", "docs/conformance.md", "document to update")
	failures := flag.String("failures", "", "also write the failing tests (name<TAB>reason) to this file")
	flag.Parse()
	if err := run(*junitPath, *focus, *k8s, *commit, *wall, *doc, *failures); err != nil {
		fmt.Fprintln(os.Stderr, "summarize:", err)
		os.Exit(1)
	}
}

func run(junitPath, focus, k8s, commit, wall, doc, failuresPath string) error {
	focusRE, err := regexp.Compile(focus)
	if err != nil {
		return fmt.Errorf("focus: %w", err)
	}
	results, err := read(junitPath, focusRE)
	if err != nil {
		return err
	}
	var all counts
	bySIG := map[string]*counts{}
	var failed []result
	for _, r := range results {
		all.add(r.state)
		if bySIG[r.sig] == nil {
			bySIG[r.sig] = &counts{}
		}
		bySIG[r.sig].add(r.state)
		if r.state != "passed" && r.state != "skipped" {
			failed = append(failed, r)
		}
	}
	date := time.Now().UTC().Format("2006-01-02 15:04 UTC")
	row := fmt.Sprintf("| %s | `%s` | %s | `%s` | %d | %d | %d | %d | %s |", date, commit, k8s, strings.ReplaceAll(focus, "|", "\\|"),
		all.total, all.passed, all.failed, all.skipped, wall)
	latest := latestSection(date, commit, k8s, focus, wall, all, bySIG, failed)
	if failuresPath != "" {
		var b strings.Builder
		for _, f := range failed {
			fmt.Fprintf(&b, "%s\t%s\n", f.name, f.reason)
		}
		if err := os.WriteFile(failuresPath, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%d tests: %d passed, %d failed, %d skipped\n", all.total, all.passed, all.failed, all.skipped)
	return update(doc, row, latest)
}

// read returns the report's tests that match focus (ginkgo also lists the specs
// the focus filtered out, and the suite's setup nodes).
func read(path string, focus *regexp.Regexp) ([]result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j junit
	if err := xml.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []result
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			name := strings.TrimPrefix(c.Name, "[It] ")
			if !strings.Contains(name, "[Conformance]") || !focus.MatchString(name) {
				continue
			}
			state := c.Status
			if state == "" { // reports without the status attribute
				switch {
				case c.Failure != nil || c.Error != nil:
					state = "failed"
				case c.Skipped != nil:
					state = "skipped"
				default:
					state = "passed"
				}
			}
			if state == "skipped" && c.Skipped != nil && c.Skipped.Message == "skipped" {
				continue // filtered out by the focus, not run
			}
			sig := sigRE.FindString(name)
			if sig == "" {
				sig = "(none)"
			}
			out = append(out, result{name: name, sig: strings.Trim(sig, "[]"), state: state, reason: reason(c)})
		}
	}
	return out, nil
}

// reason is the first line of the failure message, shortened.
func reason(c testCase) string {
	m := c.Failure
	if m == nil {
		m = c.Error
	}
	if m == nil {
		return ""
	}
	s := m.Message
	if s == "" {
		s = m.Text
	}
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}

func latestSection(date, commit, k8s, focus, wall string, all counts, bySIG map[string]*counts, failed []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s on `%s` (Kubernetes %s suite), focus `%s`, wall time %s.\n\n", date, commit, k8s, focus, wall)
	fmt.Fprintf(&b, "| SIG | total | passed | failed | skipped |\n|---|---:|---:|---:|---:|\n")
	sigs := make([]string, 0, len(bySIG))
	for s := range bySIG {
		sigs = append(sigs, s)
	}
	sort.Strings(sigs)
	for _, s := range sigs {
		c := bySIG[s]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d |\n", s, c.total, c.passed, c.failed, c.skipped)
	}
	fmt.Fprintf(&b, "| **all** | **%d** | **%d** | **%d** | **%d** |\n", all.total, all.passed, all.failed, all.skipped)
	if len(failed) > 0 {
		fmt.Fprintf(&b, "\n<details><summary>%d failing tests (first line of each failure)</summary>\n\n", len(failed))
		sort.Slice(failed, func(i, j int) bool { return failed[i].name < failed[j].name })
		for _, f := range failed {
			fmt.Fprintf(&b, "- %s — %s\n", escape(f.name), escape(f.reason))
		}
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

// escape keeps test names and messages from being read as Markdown.
func escape(s string) string {
	r := strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "*", "\\*", "_", "\\_", "`", "'")
	return r.Replace(s)
}

const (
	runsMarker  = "<!-- runs: generated rows are appended above this line -->"
	latestBegin = "<!-- latest run: begin (generated) -->"
	latestEnd   = "<!-- latest run: end -->"
)

// update appends the run's row to the Runs table and replaces the latest-run
// section. A document without the markers gets them appended.
func update(doc, row, latest string) error {
	b, err := os.ReadFile(doc)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(b)
	if !strings.Contains(s, runsMarker) {
		s += "\n## Runs\n\n| date | commit | suite | focus | total | passed | failed | skipped | wall time |\n" +
			"|---|---|---|---|---:|---:|---:|---:|---|\n" + runsMarker + "\n"
	}
	if !strings.Contains(s, latestBegin) || !strings.Contains(s, latestEnd) {
		s += "\n## Latest run\n\n" + latestBegin + "\n" + latestEnd + "\n"
	}
	s = strings.Replace(s, runsMarker, row+"\n"+runsMarker, 1)
	i := strings.Index(s, latestBegin) + len(latestBegin)
	j := strings.Index(s, latestEnd)
	s = s[:i] + "\n" + latest + s[j:]
	return os.WriteFile(doc, []byte(s), 0o644)
}
