package forge

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-github/v66/github"
)

func TestAnswer(t *testing.T) {
	resp := func(code int) *http.Response {
		return &http.Response{StatusCode: code, Request: &http.Request{Method: "POST"}}
	}
	for want, err := range map[string]error{
		"403 Resource not accessible by integration": fmt.Errorf("merge: %w", &github.ErrorResponse{Response: resp(403), Message: "Resource not accessible by integration"}),
		"422 Unprocessable Entity":                   &github.ErrorResponse{Response: resp(422)},
		"dial tcp: connection refused":               errors.New("dial tcp: connection refused"),
	} {
		if got := Answer(err); got != want {
			t.Errorf("Answer(%v) = %q, want %q", err, got, want)
		}
	}
}
