"""The Positions pane: our holdings with cost and PnL; Enter opens the sell prompt. Tokens the wallet holds
that no lot knows (found by reconciliation) follow as untracked holdings: cost "no lot", never sold
automatically, and Enter on one says so instead of offering a sell."""

from __future__ import annotations

from engine.state import EngineSnapshot
from zapbot_tui.format import mint_label, short_key, signed_sol, sol, token_amount
from zapbot_tui.panes.base import Col, Row, TablePane, cell, tones

UNTRACKED_KEY = "untracked:"  # the row key of an untracked holding: "untracked:<mint>"


class PositionsPane(TablePane):
    title = "Positions"
    pane_id = "positions"
    columns = (
        Col("Token", "token", 8),
        Col("Amount", "amount", 7),
        Col("Cost", "cost", 6),
        Col("PnL", "pnl", 7, drop=2),
        Col("Unreal", "unreal", 7, drop=1),
        Col("Mint", "mint", 8, drop=3),
    )

    def __init__(self) -> None:
        super().__init__()
        # The last unrealised PnL seen per mint: a fill re-reads a position from the store without a price
        # (None until the cache worker values it again), and the cell would flicker to "—" in between.
        self.last_unrealized: dict[str, int] = {}

    def unrealized(self, mint: str, value: int | None) -> int | None:
        if value is None:
            return self.last_unrealized.get(mint)
        self.last_unrealized[mint] = value
        return value

    def rows(self, snapshot: EngineSnapshot) -> list[Row]:
        tone = tones(self.app)
        rows: list[Row] = []
        held = {position.mint for position in snapshot.positions}
        for mint in [m for m in self.last_unrealized if m not in held]:
            del self.last_unrealized[mint]

        def pnl_style(value: int | None) -> str:
            if not value:
                return ""
            return tone["ok"] if value > 0 else tone["bad"]

        for position in sorted(snapshot.positions, key=lambda view: view.cost_lamports, reverse=True):
            unrealized = self.unrealized(position.mint, position.unrealized_pnl_lamports)
            rows.append(
                (
                    position.mint,
                    (
                        cell(mint_label(position.mint, position.symbol)),
                        cell(token_amount(position.amount, position.decimals), "", "right"),
                        cell(sol(position.cost_lamports, 3), "", "right"),
                        cell(
                            signed_sol(position.realized_pnl_lamports, 3),
                            pnl_style(position.realized_pnl_lamports),
                            "right",
                        ),
                        cell(signed_sol(unrealized, 3), pnl_style(unrealized), "right"),
                        cell(short_key(position.mint, 4, 3)),
                    ),
                )
            )
        for mint, amount in sorted(snapshot.untracked.items()):
            if mint in held:
                continue
            token = snapshot.tokens.get(mint)
            rows.append(
                (
                    UNTRACKED_KEY + mint,
                    (
                        cell(mint_label(mint, token.symbol if token else ""), "dim"),
                        cell(token_amount(amount, token.decimals if token else None), "dim", "right"),
                        cell("no lot", tone["warn"], "right"),
                        cell("—", "dim", "right"),
                        cell("—", "dim", "right"),
                        cell(short_key(mint, 4, 3), "dim"),
                    ),
                )
            )
        return rows
