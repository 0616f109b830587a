"""Telegram mirroring: formatting, the notifier, the Bot API transport and the command handlers; the worker is engine.workers.telegram."""
