package main

import (
	"context"
	"slices"

	"github.com/ironworks-ci/ironworks/coordinator/store"
	"github.com/ironworks-ci/ironworks/coordinator/web"
)

// subscriptionsPage is the Subscriptions page's source: the subscriptions
// of the store, one row per address.
type subscriptionsPage struct{ st *store.Store }

func (s subscriptionsPage) List(ctx context.Context) ([]web.Subscription, error) {
	subs, err := s.st.Subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	var out []web.Subscription
	at := map[string]int{}
	for _, sub := range subs {
		i, ok := at[sub.Email]
		if !ok {
			i = len(out)
			at[sub.Email] = i
			out = append(out, web.Subscription{Email: sub.Email, CreatedAt: sub.CreatedAt})
		}
		row := &out[i]
		row.Components = appendNew(row.Components, sub.Component)
		row.Branches = appendNew(row.Branches, sub.Branch)
		for _, k := range sub.Events {
			row.Kinds = appendNew(row.Kinds, k)
		}
		if sub.CreatedAt.Before(row.CreatedAt) {
			row.CreatedAt = sub.CreatedAt
		}
	}
	return out, nil
}

// appendNew appends v unless it is empty or already in list.
func appendNew(list []string, v string) []string {
	if v == "" || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}
