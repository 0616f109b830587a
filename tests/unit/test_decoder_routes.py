"""Decoder on real mainnet routes, tips, bot fees, router PDAs, arbitrage and newer venues (issue 15).

Every expected figure below was worked out by hand from the fixture's raw pre/post balances; the arithmetic
is written next to each fixture in tests/fixtures/mainnet/SOURCES.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from solders.pubkey import Pubkey

from engine.decoding import decode_raw, decode_transaction
from engine.decoding.cli import main as decode_main
from engine.decoding.programs import TIP_AND_FEE_ACCOUNTS, USDC_MINT, USDT_MINT, VENUE_PROGRAMS, WSOL_MINT

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mainnet"
USDS_MINT = "USDSwr9ApdHk5bvJKMjzff41FfuX8bSxdKcR81vTwcA"


def _decode(name: str, wallet: str | None = None):
    return decode_raw((FIXTURES / name).read_bytes(), wallet)


def _one(name: str):
    decoded = _decode(name)
    assert not decoded.failed
    (swap,) = decoded.swaps
    return swap


def _fields(swap) -> tuple:
    return (swap.wallet, swap.side, swap.mint, swap.token_amount, swap.quote_mint, swap.quote_amount)


# (fixture, wallet, side, mint, token_amount, quote_mint, quote_amount, venue, router)
NET_ROUTES = [
    # Sold for USDT through a SOL hop (PumpSwap -> SOL -> ... -> USDT): the quote is the USDT received.
    (
        "routes/UnpVKhTh_sell_for_usdt_via_sol_hop_b64.json",
        "D6GV79d1zB9JfQ3pHbXzvFUojkp4LBKYnx4zF4VBDjox",
        "sell",
        "2pFFgMtw7GkE6Kr6Xpg81mqDvEihhoafg64HdheKpump",
        2432874000,
        USDT_MINT,
        10670756,
        "jupiter",
        "jupiter",
    ),
    # Axiom (FlashX) moves SOL only between hops: USDC -> SOL -> token; the wallet's SOL pays fees only.
    (
        "routes/uyEeVWMn_axiom_buy_with_usdc_via_sol_hop_b64.json",
        "FGSkBxz7rPpchZqZgao2qWHx73mJB6WH9nfzcWHTVyQS",
        "buy",
        "DXcwhg1MwrResr1CoaBuhnnHmcx222ntZAgRd28Jpump",
        302184876540,
        USDC_MINT,
        49500000,
        "pumpswap",
        None,
    ),
    (
        "routes/3PHQEygD_axiom_sell_for_usdc_via_sol_hop_b64.json",
        "AizNunC6P79FBigQSwiH4e79g4JojJUhtJwWDeGo4GaL",
        "sell",
        "AHvxwN5EM5bG8jQr2f8BVx6z1Na9ED8xGqRuqCG6gGDr",
        47658377222,
        USDC_MINT,
        19336212,
        "pumpswap",
        None,
    ),
    # OKX: USDC -> SOL (Raydium v4) -> token (PumpSwap), Helius Sender tip 200,000 left out.
    (
        "routes/JaVG5S6g_okx_buy_with_usdc_via_sol_hop_b64.json",
        "3VM82rP993eArmKGY1J3dxZctHqmSndvuvw7Mzto67Kn",
        "buy",
        "ACtfUWtgvaXrQGNMiohTusi5jcx5RJf5zwu9aAxkpump",
        995579517,
        USDC_MINT,
        3751372,
        "okx",
        "okx",
    ),
]


@pytest.mark.parametrize("case", NET_ROUTES, ids=[c[0] for c in NET_ROUTES])
def test_a_route_is_the_wallets_net_change_against_the_stable_it_paid_or_got(case: tuple) -> None:
    name, *expected, venue, router = case
    swap = _one(name)
    assert _fields(swap) == tuple(expected)
    assert (swap.venue, swap.router) == (venue, router)


def test_pump_event_that_is_one_hop_of_a_stable_route_is_not_the_swap(mainnet: Path) -> None:
    # Shared fixture: 10,000 USDC -> SOL (Meteora DLMM) -> pump.fun. The TradeEvent says 72,380 lamports;
    # the wallet paid USDC 10,000 (balance 10000 -> 0) and got 2,583,728,601 tokens.
    (swap,) = decode_raw((mainnet / "jupiter_v6/2pfnv4dr_route.json").read_bytes()).swaps
    assert _fields(swap) == (
        "DtMUkCoeyzs35B6EpQQxPyyog6TRwXxV1W1Acp8nWBNa",
        "buy",
        "HaMv3cdfDW6357yjpDur6kb6w52BUPJrMJpR76tjpump",
        2583728601,
        USDC_MINT,
        10000,
    )


def test_pump_event_stays_the_source_when_it_is_the_whole_trade(mainnet: Path) -> None:
    # pumpfun/ZEu54dZe: a direct pump.fun buy, bloXroute tip 10,000,000 paid on top: the event's
    # sol_amount is the quote, the tip is not.
    raw = json.loads((mainnet / "pumpfun/ZEu54dZe_buy.json").read_bytes())
    (swap,) = decode_transaction(raw).swaps
    assert swap.venue == "pumpfun" and swap.quote_mint == WSOL_MINT
    keys = raw["transaction"]["message"]["accountKeys"]
    wallet_index = keys.index(swap.wallet)
    spent = raw["meta"]["preBalances"][wallet_index] - raw["meta"]["postBalances"][wallet_index]
    assert swap.quote_amount < spent - raw["meta"]["fee"] - 10_000_000


TIPS_AND_FEES = [
    # Sol Trading Bot fee (F34kcg 1,289,319) left out: 123,027,868 + fee 505,000 + 1,289,319.
    (
        "tips_fees/2XD6vAGj_sol_trading_bot_fee_b64.json",
        "2UJugLRZTTVBmP1H2Lnpeou6k3PMkeVdSdmu8Z9jZ3s2",
        "buy",
        WSOL_MINT,
        124822187,
        USDC_MINT,
        11265303,
    ),
    # 0slot tip (Ey2JEr 1,100,000) left out: 1,716,274,230 + fee 55,000 + 1,100,000.
    (
        "tips_fees/3hbuxW9j_zeroslot_tip_b64.json",
        "ETHhoTiKGRacGPLx5tCA5HsKwn5YppRpoZ7NSg9mCBer",
        "sell",
        "CT3r8cpZjQmYGuvJFfgVzCVKi6RmVwKWcmDYb4CQmoon",
        57886551891123424,
        WSOL_MINT,
        1717429230,
    ),
    # Astralane tip (AsTRAD 118,323) on a Titan route: the wallet's SOL change is fee + tip only.
    (
        "venues/44pxrtZz_titan_astralane_tip_b64.json",
        "EmDewJpfQaxWqxthX1FUyBCCPNGt8Ac5ek4M4pnGTgxC",
        "sell",
        "SKRbvo6Gf7GondiT3BbTfuRDPqLWei4j2Qy2NPGZhW3",
        7570900000,
        USDC_MINT,
        120063156,
    ),
]


@pytest.mark.parametrize("case", TIPS_AND_FEES, ids=[c[0] for c in TIPS_AND_FEES])
def test_sender_tips_and_bot_fees_are_not_part_of_the_quote(case: tuple) -> None:
    name, *expected = case
    assert _fields(_one(name)) == tuple(expected)


def test_nozomi_tip_and_nova_fee_are_left_out_of_a_sale(mainnet: Path) -> None:
    # Shared raydium_amm_v4/3XAnhzL2: wallet +50,423,954 lamports, fee 25,005,758, Nova fee 1,014,441,
    # Nozomi tip 25,000,000: 101,444,153, which is exactly what the pool's SOL vault paid out.
    (swap,) = decode_raw((mainnet / "raydium_amm_v4/3XAnhzL2_via_nova_bot_b64.json").read_bytes()).swaps
    assert (swap.side, swap.quote_mint, swap.quote_amount, swap.router) == (
        "sell",
        WSOL_MINT,
        101444153,
        "nova",
    )


def test_tip_and_fee_table_names_every_major_sender() -> None:
    senders = {name for name, kind in TIP_AND_FEE_ACCOUNTS.values() if kind == "tip"}
    assert {
        "jito",
        "nozomi",
        "bloxroute",
        "helius_sender",
        "nextblock",
        "0slot",
        "astralane",
        "falcon",
        "blockrazor",
    } <= senders
    for account in TIP_AND_FEE_ACCOUNTS:
        assert len(bytes(Pubkey.from_string(account))) == 32


def test_a_router_pda_gets_no_swap(mainnet: Path) -> None:
    # OKX: the router's PDA ARu4n5mF held the tokens between hops; only the signer 7kKfrM sold
    # (989,935,727,358 tokens; +170,817,964 lamports + fee 387,400).
    decoded = _decode("routes/3vg7eDuN_okx_sell_router_pda_b64.json")
    assert [_fields(s) for s in decoded.swaps] == [
        (
            "7kKfrMDnunB5eR4n6KW6F8eGcmrVCgS8kLfMxppcCFdn",
            "sell",
            "2JEQfsUPkc3ozgQwnubvaeQJs139ufAm3YSWTY1spump",
            989935727358,
            WSOL_MINT,
            171205364,
        )
    ]
    # Shared pumpfun/53fG8Sh9: the pump.fun buyer is the router's vault BwWK17cb, a PDA (off curve).
    vault = "BwWK17cbHxwWBKZkUYvzxLcNQ1YVyaFezduWbtm2de6s"
    assert not Pubkey.from_string(vault).is_on_curve()
    assert decode_raw((mainnet / "pumpfun/53fG8Sh9_buy_b64.json").read_bytes()).swaps == ()


@pytest.mark.parametrize(
    "name",
    [
        "arbitrage/5vBSx86k_usdc_loop_helius_tip_b64.json",  # USDC +11,240; SOL: fee + Helius tip only
        "arbitrage/4iE9hhbo_sol_loop_helius_tip_b64.json",  # SOL -> USD1 -> USDC -> SOL, +597,721 WSOL
        "arbitrage/2orRh64e_usdc_loop_b64.json",  # USDC -> SOL -> USD1 -> USDC, +65,918 USDC
    ],
)
def test_arbitrage_with_no_net_token_is_no_swap(name: str) -> None:
    decoded = _decode(name)
    assert not decoded.failed and decoded.swaps == ()


# (fixture, venue, router, wallet, side, mint, token_amount, quote_mint, quote_amount)
VENUES = [
    (
        "venues/44pxrtZz_titan_astralane_tip_b64.json",
        "titan",
        "titan",
        "EmDewJpfQaxWqxthX1FUyBCCPNGt8Ac5ek4M4pnGTgxC",
        "sell",
        "SKRbvo6Gf7GondiT3BbTfuRDPqLWei4j2Qy2NPGZhW3",
        7570900000,
        USDC_MINT,
        120063156,
    ),
    (
        "venues/5F5H6fWQ_humidifi_astralane_tip_b64.json",
        "humidifi",
        "jupiter",
        "GJvewfRjqTUPtx6WsBSUnaFbdgXwgXnWfpDyLm65T4YA",
        "buy",
        "2zMMhcVQEXDtdE6vsFS7S7D5oUodfJHE8vd1gnBouauv",
        40227645850,
        USDC_MINT,
        399998258,
    ),
    (
        "venues/5uUMg9VN_solfi_v2_b64.json",
        "solfi_v2",
        "jupiter",
        "D8quSMMBUzzh5v4vsqTy73iGeZC1KrHGvYfw6pW9cZwF",
        "swap",
        USDC_MINT,
        129301140,
        USDT_MINT,
        129292779,
    ),
    (
        "venues/4bJd4mkj_goonfi_b64.json",
        "goonfi",
        "jupiter",
        "7RUWn2pnCF2F6sKCYaFfYxDeqHWWfYFaabQ4i24KEXvF",
        "sell",
        WSOL_MINT,
        2276284449,
        USDC_MINT,
        199001479,
    ),
    (
        "venues/39Z6bau2_bisonfi_b64.json",
        "bisonfi",
        "jupiter",
        "6SFjouaoCTztJEho9T1uBxJqpXP6mBip6ZjmVhwPbEN1",
        "sell",
        WSOL_MINT,
        482964986,
        USDC_MINT,
        41774211,
    ),
    (
        "venues/3mrMFwXQ_byreal_b64.json",
        "byreal",
        None,
        "5mVKmfS2FnzWYqocVocgGgkP1BxSqVFU4oi6AhJ8sXEo",
        "sell",
        "D6xWgRCSHoMEB5fqPwk3p6Stxirn5ytm2WwboSTTx4oE",
        60758048486,
        USDC_MINT,
        46633065,
    ),
    (
        "venues/3tkw3dz8_alphaq_b64.json",
        "alphaq",
        "jupiter",
        "H988sWPAa6z8ynoZTWraZJy5g4puV2Z1WHbJ6S2xiZs9",
        "sell",
        "J1toso1uCk3RLmjorhTtrVwY9HJ7X8V9yYac6Y7kGCPn",
        344417050,
        WSOL_MINT,
        439016555,
    ),
    (
        "venues/45rnX5RN_manifest_b64.json",
        "manifest",
        "jupiter",
        "3weAzNKmcyzMc84YLY8h5ovsKdGPx7V41SogdQnApMyK",
        "swap",
        USDS_MINT,
        84139267,
        USDC_MINT,
        84115879,
    ),
    # TesseraV next to Meteora DAMM v2 in one OKX route: a split, so the router names it.
    (
        "venues/3DafP7fg_tesserav_in_okx_route_b64.json",
        "okx",
        "okx",
        "j2c3yit3sJWgGYyN9Gjvw24iaMWEPr9Qh8ohUcBrQhz",
        "buy",
        "DsTQ67tKPAs88Xo8oPYkZ1CEnPn2rGm9asus4Z3Zbrrr",
        612030882524262,
        USDC_MINT,
        10000000,
    ),
]


@pytest.mark.parametrize("case", VENUES, ids=[c[0] for c in VENUES])
def test_newer_venues_are_named(case: tuple) -> None:
    name, venue, router, *expected = case
    swap = _one(name)
    assert (swap.venue, swap.router) == (venue, router)
    assert _fields(swap) == tuple(expected)
    assert swap.programs == ()


def test_jupiter_rfq_fill_is_a_swap_for_taker_and_maker() -> None:
    # Both sides sign an order-engine fill: USDT 282,833,715 <-> USDC 282,854,293.
    decoded = _decode("venues/2fdUQ6DB_jupiter_rfq_b64.json")
    assert {_fields(s) for s in decoded.swaps} == {
        (
            "FkaLnX17cXZGyeu3kZGdHCNdFMJJzBrPPYVvd18B3MZp",
            "swap",
            USDC_MINT,
            282854293,
            USDT_MINT,
            282833715,
        ),
        (
            "H5izPfH2hmub4XGHqMgFTMNZEJ7yJtoNK7roC1m3FDij",
            "swap",
            USDT_MINT,
            282833715,
            USDC_MINT,
            282854293,
        ),
    }
    assert {s.venue for s in decoded.swaps} == {"jupiter_rfq"}
    taker = _decode("venues/AoRC9x4M_jupiter_rfq_b64.json", "AMJ81TnD4EWftmVPxppiEPsSFbmfYAvvLkUaNDXuR7JH")
    (swap,) = taker.swaps
    assert _fields(swap)[1:] == (
        "sell",
        "FRmH6iRkMr33DLG6zVLR7EM4LojBFAuq6NtFzG6ondo",
        46707774954,
        USDC_MINT,
        20000000000,
    )


def test_tessera_quote_update_without_tokens_is_no_swap() -> None:
    assert _decode("venues/67TzQj37_tesserav_no_swap_b64.json").swaps == ()


def test_every_named_venue_is_in_the_table_with_its_program_id() -> None:
    named = {
        "T1TANpTeScyeqVzzgNViGDNrkQ6qHz9KrSBS4aNXvGT": "titan",
        "61DFfeTKM7trxYcPQCM78bJ794ddZprZpAwAnLiwTpYH": "jupiter_rfq",
        "TessVdML9pBGgG9yGks7o4HewRaXVAMuoVj4x83GLQH": "tesserav",
        "9H6tua7jkLhdm3w8BvgpTn5LZNU7g4ZynDmCiNN3q6Rp": "humidifi",
        "SV2EYYJyRz2YhfXwXnhNAevDEui5Q6yrfyo13WtupPF": "solfi_v2",
        "goonERTdGsjnkZqWuVjs73BZ3Pb9qoCUdBUL17BnS5j": "goonfi",
        "goonuddtQRrWqqn5nFyczVKaie28f3kDkHWkHtURSLE": "goonfi",
        "BiSoNHVpsVZW2F7rx2eQ59yQwKxzU5NvBcmKshCSUypi": "bisonfi",
        "REALQqNEomY6cQGZJUGwywTBD2UmDT32rZcNnfxQ5N2": "byreal",
        "ALPHAQmeA7bjrVuccPsYPiCvsi428SNwte66Srvs4pHA": "alphaq",
        "MNFSTqtC93rEfYHB6hF82sKdZpUDFWkViLByLd1k1Ms": "manifest",
    }
    assert {program_id: VENUE_PROGRAMS[program_id][0] for program_id in named} == named


UNKNOWN = "unknown/3QhMnVeS_unknown_venue_b64.json"
UNKNOWN_PROGRAMS = (
    "JUP2jxvXaqu7NQY1GmNF4m1vodw12LVXYxbFL2uJvfo",
    "MERLuDFBMmsHnsBPZw2sDQZHvXFMwp8EdjudcU2HKky",
)


def test_unknown_venue_clean_swap_is_read_in_every_mode() -> None:
    # Jupiter v2 + Mercurial, neither in the table: USDT 129,942 -> 942, USDC 1,930,919 -> 2,059,891.
    for allow in (False, True):
        (swap,) = decode_raw((FIXTURES / UNKNOWN).read_bytes(), allow_unknown_venue=allow).swaps
        assert _fields(swap) == (
            "CFRdMhAUBs7NcWv2AXS4gnkAaL2AB5ntK5EBdKHJVEAW",
            "swap",
            USDC_MINT,
            128972,
            USDT_MINT,
            129000,
        )
        assert (swap.venue, swap.router, swap.programs) == ("unknown", None, UNKNOWN_PROGRAMS)
        assert orjson.loads(orjson.dumps(swap.to_json_dict()))["programs"] == list(UNKNOWN_PROGRAMS)


def test_plain_zapbot_decode_reports_the_unknown_venue(capsys: pytest.CaptureFixture[str]) -> None:
    assert decode_main([str(FIXTURES / UNKNOWN)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    (swap,) = orjson.loads(line)["swaps"]
    assert (swap["venue"], swap["programs"]) == ("unknown", list(UNKNOWN_PROGRAMS))


def test_every_fixture_here_is_listed_in_sources() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    files = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.json"))
    assert len(files) >= 20
    for name in files:
        assert Path(name).name in sources, name


def test_swap_carries_the_wallets_own_balance_before_and_after() -> None:
    # routes/UnpVKhTh: D6GV79d1 held 4,865,749,970 of 2pFFgM before and 2,432,875,970 after (SOURCES.md).
    swap = _one("routes/UnpVKhTh_sell_for_usdt_via_sol_hop_b64.json")
    assert (swap.owner_pre, swap.owner_post) == (4865749970, 2432875970)
    assert swap.owner_pre - swap.owner_post == swap.token_amount
    as_json = orjson.loads(orjson.dumps(swap.to_json_dict()))
    assert (as_json["owner_pre"], as_json["owner_post"]) == (4865749970, 2432875970)
    # A buy from nothing: the Axiom buyer had no DXcwhg before, 302,184,876,540 after.
    bought = _one("routes/uyEeVWMn_axiom_buy_with_usdc_via_sol_hop_b64.json")
    assert (bought.owner_pre, bought.owner_post) == (0, 302184876540)
