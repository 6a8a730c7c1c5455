DROP TRIGGER events_webhooks ON events;
DROP FUNCTION queue_webhook_deliveries();
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
