"""Scouting a wallet before following it: read its history, report its trading, replay it as a copy."""

from engine.scout.model import ScoutedTransaction, WalletSwap

__all__ = ["ScoutedTransaction", "WalletSwap"]
