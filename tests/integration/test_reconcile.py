"""Reconciliation with the chain on the local cluster: tokens moved out of the wallet outside ZapBot (a real
SPL TransferChecked signed by the operator wallet) show as an adjustment within one reconciliation period:
the lot shrinks, the console log and Telegram say so, and nothing is sold."""

from __future__ import annotations

import base64
import json
import urllib.request

import pytest
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from engine.config import load_settings
from engine.facade import Engine
from engine.testing.fake_telegram import FakeTelegramServer
from engine.workers.data import DataWorker
from engine.workers.executor import ExecutorWorker
from engine.workers.telegram import TelegramWorker
from tests.helpers.copying import SOL, detected, finished, query
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow

TOKEN = "7234567893:AAReconcileTokenForTests_abcdefghijk"
CHAT = 3001


def rpc(url: str, method: str, params: list) -> dict:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        document = json.loads(answer.read())
    assert "error" not in document, document
    return document["result"]


def token_account(url: str, owner: str, mint: str) -> tuple[Pubkey, Pubkey]:
    """(the owner's token account of mint, its token program), as getTokenAccountsByOwner tells."""
    accounts = rpc(url, "getTokenAccountsByOwner", [owner, {"mint": mint}, {"encoding": "base64"}])["value"]
    assert accounts, f"{owner} holds no {mint}"
    return Pubkey.from_string(accounts[0]["pubkey"]), Pubkey.from_string(accounts[0]["account"]["owner"])


def transfer_out(url: str, keypair, mint: str, to_owner: str, amount: int, decimals: int) -> str:
    """A TransferChecked of `amount` from our token account to `to_owner`'s, signed by our wallet."""
    source, program = token_account(url, str(keypair.pubkey()), mint)
    destination, _ = token_account(url, to_owner, mint)
    data = bytes([12]) + amount.to_bytes(8, "little") + bytes([decimals])
    instruction = Instruction(
        program,
        data,
        [
            AccountMeta(source, is_signer=False, is_writable=True),
            AccountMeta(Pubkey.from_string(mint), is_signer=False, is_writable=False),
            AccountMeta(destination, is_signer=False, is_writable=True),
            AccountMeta(keypair.pubkey(), is_signer=True, is_writable=False),
        ],
    )
    blockhash = Hash.from_string(rpc(url, "getLatestBlockhash", [])["value"]["blockhash"])
    tx = Transaction(
        [keypair], Message.new_with_blockhash([instruction], keypair.pubkey(), blockhash), blockhash
    )
    encoded = base64.b64encode(bytes(tx)).decode()
    return rpc(url, "sendTransaction", [encoded, {"encoding": "base64"}])


def test_tokens_moved_out_are_an_adjustment_and_nothing_is_sold(zapbot_home, sim_cluster):
    fake = FakeTelegramServer(TOKEN).start()
    settings = load_settings()
    settings.http.enabled = False
    settings.engine.heartbeat_interval_ms = 1000
    settings.engine.reconcile_interval_s = 1.0
    tg = settings.telegram
    tg.bot_token, tg.chat_ids, tg.api_base_url, tg.poll_timeout_s = TOKEN, [CHAT], fake.base_url, 1
    tg.chat_messages_per_second = 50
    engine = Engine(
        settings,
        cluster=sim_cluster,
        http=False,
        worker_classes={"data": DataWorker, "executor": ExecutorWorker, "telegram": TelegramWorker},
    )
    try:
        engine.start(wait_ready=15)
        wallet = engine.ctx.state.wallet
        wait_until(lambda: sim_cluster.balance(wallet) > 0, what="the sim airdrop")
        wait_until(lambda: engine.snapshot().worker("telegram").state == "ready", what="telegram ready")
        mint = sim_cluster.mints[0]
        leader, leader_wallet = sim_cluster.traders[0]
        buy = sim_cluster.trader_swap(leader, "buy", mint, quote_lamports=2 * SOL)
        assert engine.ctx.send("executor", detected(buy))
        row = wait_until(lambda: finished(engine, buy.signature), what="our buy")
        assert row["status"] == "executed", row["reason"]
        held = row["token_amount"]
        lot_before = query(engine, "SELECT * FROM lots WHERE id=?", row["lot_id"])[0]
        assert lot_before["amount"] == held == sim_cluster.token_balance(wallet, mint)

        # the operator moves a third of the tokens out in a wallet app: not through ZapBot
        moved = held // 3
        transfer_out(sim_cluster.rpc_url, engine.ctx.keypair, mint, leader_wallet, moved, 6)
        wait_until(lambda: sim_cluster.token_balance(wallet, mint) == held - moved, what="the transfer")

        adjustment = wait_until(
            lambda: query(engine, "SELECT * FROM intents WHERE trigger='reconcile'"), what="the adjustment"
        )
        assert len(adjustment) == 1
        adjustment = adjustment[0]
        assert adjustment["side"] == "adjust" and adjustment["status"] == "executed"
        assert adjustment["reason"].startswith("external sell") and adjustment["token_amount"] == moved
        lot = query(engine, "SELECT * FROM lots WHERE id=?", row["lot_id"])[0]
        assert lot["amount"] == held - moved == sim_cluster.token_balance(wallet, mint)
        # cost basis follows the tokens: the share that left is written off, no PnL is invented
        assert (
            lot["cost_lamports"] == lot_before["cost_lamports"] - lot_before["cost_lamports"] * moved // held
        )
        assert lot["realized_pnl_lamports"] == 0
        moves = query(engine, "SELECT * FROM lot_moves WHERE intent_id=?", adjustment["id"])
        assert [(m["kind"], m["token_amount"], m["reason"]) for m in moves] == [
            ("adjust", -moved, "external sell")
        ]

        # the console says so (log pane, trades pane, position), and so does Telegram
        snap = wait_until(
            lambda: (
                (s := engine.snapshot()) and any("external sell" in line.message for line in s.logs) and s
            ),
            what="the log line",
        )
        assert any(t.trigger == "reconcile" and t.side == "adjust" for t in snap.trades)
        assert next(p for p in snap.positions if p.mint == mint).amount == held - moved
        notice = fake.wait_for(
            lambda server: next((t for t in server.texts(CHAT) if "Books adjusted" in t), None), timeout=20
        )
        assert "external sell" in notice and "Nothing was sold" in notice

        # nothing was sold, and the next reconciliation finds the books right (no second adjustment)
        runs = engine.snapshot().counters.get("reconciliations", 0)
        wait_until(
            lambda: engine.snapshot().counters.get("reconciliations", 0) >= runs + 2, what="two more checks"
        )
        assert query(engine, "SELECT COUNT(*) AS n FROM intents WHERE side='sell'")[0]["n"] == 0
        assert len(query(engine, "SELECT id FROM intents WHERE trigger='reconcile'")) == 1
        assert sim_cluster.token_balance(wallet, mint) == held - moved
    finally:
        engine.stop()
        fake.stop()
