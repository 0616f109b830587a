"""Local stand-ins for outside services (a fake Telegram Bot API) that tests and demos run against."""
