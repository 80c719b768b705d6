package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ironworks-ci/ironworks/coordinator/notify"
)

func init() {
	register(&command{name: "subscribe", summary: "subscribe an e-mail address to a component's events", run: runSubscribe})
	register(&command{name: "unsubscribe", summary: "remove an address's e-mail subscriptions", run: runUnsubscribe})
	register(&command{name: "subscriptions", summary: "list e-mail subscriptions", run: runSubscriptions})
}

func runSubscribe(ctx context.Context, args []string) int {
	fs := newFlags("subscribe", "Subscribe an e-mail address to the events of a component (and optionally one branch).\n"+
		"Events: "+strings.Join(notify.Subscribable, ", ")+"; default: "+strings.Join(notify.DefaultEvents, ","))
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	email := fs.String("email", "", "bare e-mail address, e.g. ops@example.org (required)")
	component := fs.String("component", "", "component name, or * for every component (required)")
	branch := fs.String("branch", "", "only this target branch (default: every branch)")
	events := fs.String("events", "", "comma-separated event kinds (default: "+strings.Join(notify.DefaultEvents, ",")+")")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *email == "" || *component == "" {
		fmt.Fprintln(os.Stderr, "coordinator subscribe: --email and --component are required")
		return exitUsage
	}
	ev, err := notify.ParseEvents(*events)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator subscribe: --events: %v\n", err)
		return exitUsage
	}
	cfg, st, err := openState(ctx, *cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator subscribe: %v\n", err)
		return exitConfig
	}
	defer st.Close()
	sub, err := notify.NewSubscription(cfg, *email, *component, *branch, ev)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator subscribe: %v\n", err)
		return exitUsage
	}
	saved, err := st.Subscribe(ctx, sub)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator subscribe: %v\n", err)
		return exitInfra
	}
	fmt.Printf("subscribed %s to %s (%s): %s\n", saved.Email, saved.Component, orAll(saved.Branch), strings.Join(saved.Events, ","))
	return exitOK
}

func orAll(branch string) string {
	if branch == "" {
		return "every branch"
	}
	return "branch " + branch
}

func runUnsubscribe(ctx context.Context, args []string) int {
	fs := newFlags("unsubscribe", "Remove an address's subscriptions to one component, or all of them.")
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	email := fs.String("email", "", "e-mail address (required)")
	component := fs.String("component", "", "only this component's subscriptions (default: all)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	addr, err := notify.ParseAddress(*email)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator unsubscribe: --email: %v\n", err)
		return exitUsage
	}
	_, st, err := openState(ctx, *cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator unsubscribe: %v\n", err)
		return exitConfig
	}
	defer st.Close()
	n, err := st.Unsubscribe(ctx, addr, *component)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator unsubscribe: %v\n", err)
		return exitInfra
	}
	if n == 0 {
		fmt.Fprintf(os.Stderr, "coordinator unsubscribe: %s has no subscription%s\n", addr, map[bool]string{true: " to " + *component, false: ""}[*component != ""])
		return exitUsage
	}
	fmt.Printf("removed %d subscription(s) of %s\n", n, addr)
	return exitOK
}

func runSubscriptions(ctx context.Context, args []string) int {
	fs := newFlags("subscriptions", "List e-mail subscriptions.")
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	_, st, err := openState(ctx, *cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator subscriptions: %v\n", err)
		return exitConfig
	}
	defer st.Close()
	subs, err := st.Subscriptions(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator subscriptions: %v\n", err)
		return exitInfra
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if len(subs) == 0 {
			fmt.Println("[]")
			return exitOK
		}
		enc.Encode(subs)
		return exitOK
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tCOMPONENT\tBRANCH\tEVENTS")
	for _, s := range subs {
		b := s.Branch
		if b == "" {
			b = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Email, s.Component, b, strings.Join(s.Events, ","))
	}
	tw.Flush()
	return exitOK
}
