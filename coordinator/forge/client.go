// Package forge talks to GitHub: pull requests, commit statuses and comments.
package forge

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/google/go-github/v66/github"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/ironworks-ci/ironworks/coordinator/config"
)

// Client is a GitHub API client.
type Client struct {
	GH *github.Client
}

// New returns a client for apiURL ("" for api.github.com) authenticated with
// token. A nil httpClient gets one that retries with backoff.
func New(apiURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		rc := retryablehttp.NewClient()
		rc.Logger = nil
		httpClient = rc.StandardClient()
	}
	gh := github.NewClient(httpClient)
	if token != "" {
		gh = gh.WithAuthToken(token)
	}
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		if u, err := url.Parse(apiURL); err == nil {
			gh.BaseURL = u
		}
	}
	return &Client{GH: gh}
}

// NewFromConfig builds a client from the [github] section, reading the token file.
func NewFromConfig(cfg *config.GitHub) (*Client, error) {
	if cfg == nil {
		return nil, fmt.Errorf("forge: no [github] section in the configuration")
	}
	var token string
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("github.token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	return New(cfg.APIURL, token, nil), nil
}
