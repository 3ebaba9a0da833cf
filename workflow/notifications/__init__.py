"""Who hears what: the in-app inbox, the transactional outbox, webhooks and their delivery."""
