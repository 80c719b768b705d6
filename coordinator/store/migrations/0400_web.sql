-- GitHub webhook deliveries already handled, so a redelivery or replay never
-- acts twice, even across restarts. Times are unix milliseconds.
CREATE TABLE webhook_deliveries (
	id          TEXT PRIMARY KEY,   -- X-GitHub-Delivery
	event       TEXT NOT NULL,      -- X-GitHub-Event
	received_at INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries(received_at);
