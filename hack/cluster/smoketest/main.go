// Command smoketest is the program in the image that `hack/cluster.sh smoke`
// runs in the local cluster. With no arguments it writes $WRITE_FILE (if set),
// resolves the API server's Service name, logs both, and serves HTTP on :8080.
// As a one-shot command (for kubectl exec in a FROM-scratch image):
//
//	smoketest cat FILE | write FILE TEXT | resolve NAME
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 2 && args[0] == "cat":
		b, err := os.ReadFile(args[1])
		check(err)
		os.Stdout.Write(b)
		return
	case len(args) == 3 && args[0] == "write":
		check(os.WriteFile(args[1], []byte(args[2]), 0o644))
		fmt.Println("wrote", args[1], "as uid", os.Getuid())
		return
	case len(args) == 2 && args[0] == "resolve":
		a, err := net.LookupHost(args[1])
		check(err)
		fmt.Println(args[1], a)
		return
	case len(args) != 0:
		fmt.Fprintln(os.Stderr, "usage: smoketest [cat FILE | write FILE TEXT | resolve NAME]")
		os.Exit(2)
	}
	host, _ := os.Hostname()
	if f := os.Getenv("WRITE_FILE"); f != "" {
		if err := os.WriteFile(f, []byte("hello from "+host+"\n"), 0o644); err != nil {
			fmt.Println("write failed:", err)
		} else {
			fmt.Println("wrote", f, "as uid", os.Getuid())
		}
	}
	a, err := net.LookupHost("kubernetes.default.svc.cluster.local")
	fmt.Println("lookup kubernetes.default.svc.cluster.local:", a, err)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	fmt.Println("listening on :8080")
	check(http.ListenAndServe(":8080", nil))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
