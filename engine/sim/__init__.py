"""The embedded local Solana cluster: LiteSVM state behind mainnet's JSON-RPC, pubsub and Jupiter v1 swap API."""

from engine.sim.cluster import SimCluster
from engine.sim.config import ChaosKeyError, ChaosSettings, SimConfig, parse_chaos_args
from engine.sim.market import TraderTrade
from engine.sim.swap_tx import sign_swap_transaction

__all__ = [
    "ChaosKeyError",
    "ChaosSettings",
    "SimCluster",
    "SimConfig",
    "TraderTrade",
    "parse_chaos_args",
    "sign_swap_transaction",
]
