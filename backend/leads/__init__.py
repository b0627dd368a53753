"""Lead delivery: an outbox row per registration, delivered to the CRM as a signed JSON webhook."""
