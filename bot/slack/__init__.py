"""The Slack edge: Bolt listeners, Block Kit builders and the outbox sender."""
