"""The telegram worker (being built): disabled without a bot token."""
from __future__ import annotations

from engine.worker import BaseWorker, WorkerDisabled


class TelegramWorker(BaseWorker):
    name = "telegram"

    async def setup(self) -> None:
        if self.ctx.settings.telegram.bot_token is None:
            raise WorkerDisabled("no Telegram token")
