package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

func tryTCP(a Attack) Result {
	c, err := net.DialTimeout("tcp", a.Target, attemptTimeout)
	if err != nil {
		return Result{Attack: a, Detail: err.Error()}
	}
	c.Close()
	return Result{Attack: a, Reached: true, Succeeded: true, Detail: "connected"}
}

func tryHTTP(a Attack) Result {
	client := &http.Client{Timeout: attemptTimeout, Transport: &http.Transport{Proxy: nil}}
	var resp *http.Response
	var err error
	if a.Kind == "http-post" {
		resp, err = client.Post(a.Target, "application/json", strings.NewReader(a.Body))
	} else {
		resp, err = client.Get(a.Target)
	}
	if err != nil {
		return Result{Attack: a, Detail: err.Error()}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	ok := resp.StatusCode < 300
	return Result{Attack: a, Reached: true, Succeeded: ok, Detail: fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))}
}

// tryNATS speaks the NATS text protocol with no credentials: CONNECT, then a
// PUB (answered +OK in verbose mode) or a SUB followed by a wait for a MSG.
func tryNATS(a Attack) Result {
	c, err := net.DialTimeout("tcp", a.Target, attemptTimeout)
	if err != nil {
		return Result{Attack: a, Detail: err.Error()}
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * attemptTimeout))
	r := bufio.NewReader(c)
	info, err := r.ReadString('\n')
	if err != nil {
		return Result{Attack: a, Reached: true, Detail: "no INFO: " + err.Error()}
	}
	if strings.Contains(info, `"tls_required":true`) {
		return Result{Attack: a, Reached: true, Detail: "server requires TLS: " + strings.TrimSpace(info)}
	}
	cmd := `CONNECT {"verbose":true,"pedantic":false,"name":"attacker"}` + "\r\n"
	if a.Kind == "nats-pub" {
		cmd += fmt.Sprintf("PUB %s %d\r\n%s\r\nPING\r\n", a.Subject, len(a.Body), a.Body)
	} else {
		cmd += fmt.Sprintf("SUB %s 1\r\nPING\r\n", a.Subject)
	}
	if _, err := io.WriteString(c, cmd); err != nil {
		return Result{Attack: a, Reached: true, Detail: err.Error()}
	}
	oks := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return Result{Attack: a, Reached: true, Detail: fmt.Sprintf("after %d +OK: %v", oks, err)}
		}
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "-ERR"):
			return Result{Attack: a, Reached: true, Detail: line}
		case line == "+OK":
			oks++
		case line == "PONG":
			// CONNECT and PUB (or SUB) both answered +OK: the message went
			// out, or the subscription stands.
			return Result{Attack: a, Reached: true, Succeeded: oks >= 2, Detail: fmt.Sprintf("%d +OK", oks)}
		case line == "PING":
			io.WriteString(c, "PONG\r\n")
		}
	}
}
