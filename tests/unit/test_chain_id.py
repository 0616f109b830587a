"""What a chain is called, from its genesis hash."""

from __future__ import annotations

from engine.chain.rpc import chain_label

MAINNET = "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d"
LOCAL = "CRtpf9jWLypfvSrCddPBQtRKdurVq5ibUpbSpTUofgge"


def test_public_clusters_are_named_by_their_genesis_hash():
    assert chain_label(MAINNET, embedded=False, rpc_url="https://api.mainnet-beta.solana.com") == "mainnet"
    assert chain_label(MAINNET, embedded=True, rpc_url=None) == "mainnet"
    assert chain_label("EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG", embedded=False, rpc_url="") == "devnet"


def test_other_chains_are_embedded_local_or_the_start_of_their_hash():
    assert chain_label(LOCAL, embedded=True, rpc_url="http://127.0.0.1:1234") == "embedded"
    assert chain_label(LOCAL, embedded=False, rpc_url="http://127.0.0.1:1234") == "local"
    assert chain_label(LOCAL, embedded=False, rpc_url="http://localhost:8899/") == "local"
    assert chain_label(LOCAL, embedded=False, rpc_url="https://rpc.example.com/key") == LOCAL[:8]
