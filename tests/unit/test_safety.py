"""Token safety checks and the jsonParsed mint parser, on mainnet-shaped accounts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.constants import TOKEN_2022_PROGRAM, TOKEN_PROGRAM
from engine.safety import (
    SAFETY_SKIP_REASONS,
    MintParseError,
    SafetyRules,
    check_mint,
    check_quotes,
    check_token,
    parse_mint_account,
    price_impact_pct,
)

MINT = "So11111111111111111111111111111111111111112"
AUTHORITY = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
HOOK = "HooKD5NC9QNxk25QuzCssB8ecrEzGt6eXEPBUxWp1LaR"


def account(info: dict, owner: str = TOKEN_2022_PROGRAM) -> dict:
    program = "spl-token-2022" if owner == TOKEN_2022_PROGRAM else "spl-token"
    return {
        "data": {"parsed": {"info": info, "type": "mint"}, "program": program, "space": 82},
        "executable": False,
        "lamports": 1461600,
        "owner": owner,
        "rentEpoch": 18446744073709551615,
        "space": 82,
    }


def mint_info(**changes) -> dict:
    info = {
        "decimals": 6,
        "freezeAuthority": None,
        "isInitialized": True,
        "mintAuthority": None,
        "supply": "1000000000000000",
    }
    info.update(changes)
    return info


def fee_extension(bps: int, authority: str | None = None) -> dict:
    fee = {"epoch": 0, "maximumFee": 18446744073709551615, "transferFeeBasisPoints": bps}
    return {
        "extension": "transferFeeConfig",
        "state": {
            "newerTransferFee": fee,
            "olderTransferFee": fee,
            "transferFeeConfigAuthority": authority,
            "withdrawWithheldAuthority": authority,
            "withheldAmount": 0,
        },
    }


RULES = SafetyRules()


def test_a_clean_mint_passes():
    facts = parse_mint_account(MINT, account(mint_info(), owner=TOKEN_PROGRAM))
    assert (facts.decimals, facts.supply, facts.mint_authority, facts.extensions) == (6, 10**15, None, {})
    assert not facts.is_token_2022
    assert check_token(facts, RULES) is None


def test_authorities_are_refused_in_order():
    facts = parse_mint_account(MINT, account(mint_info(mintAuthority=AUTHORITY, freezeAuthority=AUTHORITY)))
    skip = check_mint(facts, RULES)
    assert skip is not None and skip.reason == "mint authority" and AUTHORITY in skip.detail
    skip = check_mint(facts, SafetyRules(reject_mint_authority=False))
    assert skip is not None and skip.reason == "freeze authority"
    assert check_mint(facts, SafetyRules(reject_mint_authority=False, reject_freeze_authority=False)) is None


@pytest.mark.parametrize(
    ("extension", "named"),
    [
        (fee_extension(250), "transfer fee (250 bps)"),
        (fee_extension(0, AUTHORITY), "its authority can raise it"),
        ({"extension": "permanentDelegate", "state": {"delegate": AUTHORITY}}, "permanent delegate"),
        ({"extension": "transferHook", "state": {"authority": None, "programId": HOOK}}, "transfer hook"),
        ({"extension": "nonTransferable"}, "non-transferable"),
    ],
)
def test_trap_extensions_are_named(extension, named):
    facts = parse_mint_account(MINT, account(mint_info(extensions=[extension])))
    skip = check_mint(facts, RULES)
    assert skip is not None and skip.reason == "token extension" and named in skip.detail
    assert check_mint(facts, SafetyRules(reject_token_extensions=False)) is None


def test_harmless_extensions_pass():
    extensions = [
        fee_extension(0),
        {"extension": "permanentDelegate", "state": {"delegate": None}},
        {"extension": "transferHook", "state": {"authority": AUTHORITY, "programId": None}},
        {"extension": "metadataPointer", "state": {"authority": None, "metadataAddress": MINT}},
    ]
    facts = parse_mint_account(MINT, account(mint_info(extensions=extensions)))
    assert facts.transfer_fee_bps == 0
    assert check_mint(facts, RULES) is None


def test_transfer_fee_takes_the_larger_of_older_and_newer():
    extension = fee_extension(0)
    extension["state"]["newerTransferFee"] = {"epoch": 900, "maximumFee": 10, "transferFeeBasisPoints": 75}
    facts = parse_mint_account(MINT, account(mint_info(extensions=[extension])))
    assert facts.transfer_fee_bps == 75


def test_parse_refuses_what_is_not_a_mint():
    with pytest.raises(MintParseError, match="does not exist"):
        parse_mint_account(MINT, None)
    with pytest.raises(MintParseError, match="not a token mint"):
        parse_mint_account(MINT, {"owner": "11111111111111111111111111111111", "data": ["", "base64"]})
    token_account = account(mint_info())
    token_account["data"]["parsed"]["type"] = "account"
    with pytest.raises(MintParseError, match="not a token mint"):
        parse_mint_account(MINT, token_account)
    with pytest.raises(MintParseError, match="lacks decimals"):
        parse_mint_account(MINT, account({"mintAuthority": None}))


def test_price_impact_is_a_fraction_in_the_quote():
    assert price_impact_pct({"priceImpactPct": "0.1234"}) == Decimal("12.34")
    assert price_impact_pct({"priceImpactPct": "bad"}) is None
    assert check_quotes(RULES, buy_quote={"priceImpactPct": "0.1"}) is None  # exactly 10 % passes
    skip = check_quotes(RULES, buy_quote={"priceImpactPct": "0.1001"})
    assert skip is not None and skip.reason == "price impact" and "10.01%" in skip.detail
    assert check_quotes(SafetyRules(max_price_impact_pct=0), buy_quote={"priceImpactPct": "0.9"}) is None


def test_sell_route_and_liquidity():
    skip = check_quotes(RULES, sell_route_exists=False)
    assert skip is not None and skip.reason == "no sell route"
    assert check_quotes(RULES, sell_route_exists=None) is None
    assert check_quotes(SafetyRules(require_sell_route=False), sell_route_exists=False) is None
    rules = SafetyRules(min_liquidity_sol=5)
    skip = check_quotes(rules, pool_sol_lamports=4_999_999_999)
    assert skip is not None and skip.reason == "liquidity" and "4.999999999 SOL" in skip.detail
    assert check_quotes(rules, pool_sol_lamports=5_000_000_000) is None
    assert check_quotes(rules, pool_sol_lamports=None) is None


def test_mint_checks_come_before_quote_checks():
    facts = parse_mint_account(MINT, account(mint_info(freezeAuthority=AUTHORITY)))
    skip = check_token(facts, RULES, buy_quote={"priceImpactPct": "0.5"}, sell_route_exists=False)
    assert skip is not None and skip.reason == "freeze authority"
    assert {skip.reason} <= set(SAFETY_SKIP_REASONS)
