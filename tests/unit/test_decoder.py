"""Decoder tests over every mainnet fixture; expectations come from raw balance entries and event logs."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import NamedTuple

import orjson
import pytest

from engine.decoding import DecodeError, decode_raw, decode_transaction, register_venue_program
from engine.decoding.programs import VENUE_PROGRAMS, WSOL_MINT
from engine.decoding.wire import b58decode


class Expected(NamedTuple):
    wallet: str
    side: str
    mint: str
    token_amount: int | None  # None: the "token" is SOL (vs a stablecoin), not readable from token balances
    quote_mint: str | None  # checked only where the quote is a token leg in the balances
    quote_amount: int | None


# Derived independently of the decoder: for each trader, the sum of its raw pre/post token balance
# `amount` entries per mint (owner field), read straight from the fixture JSON. Reviewed by hand:
# - pumpfun/3S2vFszS (labelled x4) really holds 5 buyers; JBnrBbgq (labelled x3) 4 signers buying.
# - pumpfun/5w7YKJBT is labelled "buy" but the trader's balance falls: it is a sell.
# - pumpfun/53fG8Sh9: the trader BwWK17cb is a router-controlled account (a PDA), not the fee payer: no swap.
# - orca_whirlpool/4EoaRY7j also leaves 11 base units of mSOL dust; the swap is JitoSOL -> ORCA.
# - negatives/4QvTLiNg is labelled "raydium v4 create pool" but its logs show a DFlow Swap2 through a
#   Raydium v4 swap (ray_log SwapBaseIn) and its signer sold 6ZrY... for USDT: a real swap.
EXPECTED_SWAPS: dict[str, list[Expected]] = {
    "jupiter_v6/1ZSq1Aa2_route_parsed.json": [
        Expected(
            "8WL4ZcyWExbaWdifyqU9FkNLbn3pLyk9fU6sNS2u4v27",
            "buy",
            "EwJN2GqUGXXzYmoAciwuABtorHczTA5LqbukKXV1viH7",
            12839349,
            None,
            None,
        ),
    ],
    "jupiter_v6/28rWme56_route.json": [
        Expected(
            "3xTPAZxmpwd8GrNEKApaTw6VH4jqJ31WFXUvQzgwhR7c",
            "buy",
            "So11111111111111111111111111111111111111112",
            None,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            1000000,
        ),
    ],
    "jupiter_v6/2NPwsoX7_route.json": [
        Expected(
            "3huskHPRJXT5pL6RW57HaA8pXRFojx6gfNVGL9cJ2vtB",
            "buy",
            "3p7eCgdQx1RiJUfr4t7Z8w6DpVbP7CMa9Z6Ff69tpump",
            3861519639304,
            None,
            None,
        ),
    ],
    "jupiter_v6/2X4vKsDS_route.json": [
        Expected(
            "3xTPAZxmpwd8GrNEKApaTw6VH4jqJ31WFXUvQzgwhR7c",
            "sell",
            "So11111111111111111111111111111111111111112",
            None,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            167225,
        ),
    ],
    "jupiter_v6/2ZiXFzYV_route_parsed.json": [
        Expected(
            "8WL4ZcyWExbaWdifyqU9FkNLbn3pLyk9fU6sNS2u4v27",
            "buy",
            "A3eME5CetyZPBoWbRUwY3tSe25S6tb18ba9ZPbWk9eFJ",
            39649,
            None,
            None,
        ),
    ],
    "jupiter_v6/2pfnv4dr_route.json": [
        Expected(
            "DtMUkCoeyzs35B6EpQQxPyyog6TRwXxV1W1Acp8nWBNa",
            "buy",
            "HaMv3cdfDW6357yjpDur6kb6w52BUPJrMJpR76tjpump",
            2583728601,
            None,
            None,
        ),
    ],
    "jupiter_v6/3Cn7LoFc_route_parsed.json": [
        Expected(
            "8WL4ZcyWExbaWdifyqU9FkNLbn3pLyk9fU6sNS2u4v27",
            "buy",
            "A3eME5CetyZPBoWbRUwY3tSe25S6tb18ba9ZPbWk9eFJ",
            405391,
            None,
            None,
        ),
    ],
    "jupiter_v6/3SevEqRa_route_parsed.json": [
        Expected(
            "8WL4ZcyWExbaWdifyqU9FkNLbn3pLyk9fU6sNS2u4v27",
            "sell",
            "A3eME5CetyZPBoWbRUwY3tSe25S6tb18ba9ZPbWk9eFJ",
            41143,
            None,
            None,
        ),
    ],
    "jupiter_v6/3oweJMyj_route_parsed.json": [
        Expected(
            "8WL4ZcyWExbaWdifyqU9FkNLbn3pLyk9fU6sNS2u4v27",
            "swap",
            "AujTJJ7aMS8LDo3bFzoyXDwT3jBALUbu4VZhzZdTZLmG",
            1706275010,
            "A3eME5CetyZPBoWbRUwY3tSe25S6tb18ba9ZPbWk9eFJ",
            1000000,
        ),
    ],
    "jupiter_v6/469XLAdr_route_parsed.json": [
        Expected(
            "8WL4ZcyWExbaWdifyqU9FkNLbn3pLyk9fU6sNS2u4v27",
            "buy",
            "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN",
            16248,
            None,
            None,
        ),
    ],
    "jupiter_v6/4DPfdCKC_route_b64.json": [
        Expected(
            "1yp1LRkbGwciTP4ssMVSHDR3sbsYWskS5HDMZzghxe8",
            "sell",
            "CYCjCXgUft4ysTZp5NuuccdU7FUwd9YKeGjUG9j6pump",
            1096037113846,
            None,
            None,
        ),
    ],
    "jupiter_v6/4VhDRLUK_shared_route.json": [
        Expected(
            "8VCfQcnssNJznDqDoDDuzoKhdxgZWwwe5ikcKbAVWet5",
            "swap",
            "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN",
            1265445,
            "6p6xgHyF7AeE6TZkSmFsko444wqoP15icUSqi2jfGiPN",
            50000,
        ),
    ],
    "jupiter_v6/51SfoFAg_shared_route.json": [
        Expected(
            "AVYG9UHetNHT1FEDPLv9pN2sCCH4CLsjvkzGjVXBfEiS",
            "buy",
            "oreoN2tQbHXVaZsr3pf66A48miqcBXCDJozganhEJgz",
            944945170,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            100000000,
        ),
    ],
    "jupiter_v6/5LuTa5k9_route.json": [
        Expected(
            "DtMUkCoeyzs35B6EpQQxPyyog6TRwXxV1W1Acp8nWBNa",
            "buy",
            "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN",
            2143812,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            1100000,
        ),
    ],
    "jupiter_v6/5MMAfqiF_route_parsed.json": [
        Expected(
            "8WL4ZcyWExbaWdifyqU9FkNLbn3pLyk9fU6sNS2u4v27",
            "sell",
            "So11111111111111111111111111111111111111112",
            None,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            15107,
        ),
    ],
    "jupiter_v6/5Q8EMUvm_route_parsed.json": [
        Expected(
            "8WL4ZcyWExbaWdifyqU9FkNLbn3pLyk9fU6sNS2u4v27",
            "sell",
            "So11111111111111111111111111111111111111112",
            None,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            14507,
        ),
    ],
    "jupiter_v6/5aTjNTfg_route.json": [
        Expected(
            "63EazyqF9nJN8SdGTMUaLrRKxS3XnmUiFuDp5KZ9wEV8",
            "sell",
            "8SgNwESovnbG1oNEaPVhg6CR9mTMSK7jPvcYRe3wpump",
            100000000,
            None,
            None,
        ),
    ],
    "jupiter_v6/5hEWA54E_route_parsed.json": [
        Expected(
            "8WL4ZcyWExbaWdifyqU9FkNLbn3pLyk9fU6sNS2u4v27",
            "sell",
            "So11111111111111111111111111111111111111112",
            None,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            15172,
        ),
    ],
    "jupiter_v6/E19UrzNe_route_parsed.json": [
        Expected(
            "8WL4ZcyWExbaWdifyqU9FkNLbn3pLyk9fU6sNS2u4v27",
            "buy",
            "E6pBvDQAX31UzJD9cqqFx6j8Lfvo1q42FD6PAMNRpump",
            22344315,
            None,
            None,
        ),
    ],
    "jupiter_v6/EhfdfNdn_route_parsed.json": [
        Expected(
            "3ACp4T3ptTdayzWryEhT65NKZSKLjwXviBjWEy54aFdW",
            "buy",
            "8wXtPeU6557ETkp9WHFY1n1EcU6NxDvbAggHGsMYiHsB",
            21978335183098,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            181454840,
        ),
    ],
    "jupiter_v6/ndGjRock_route_parsed.json": [
        Expected(
            "8WL4ZcyWExbaWdifyqU9FkNLbn3pLyk9fU6sNS2u4v27",
            "sell",
            "So11111111111111111111111111111111111111112",
            None,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            1512,
        ),
    ],
    "jupiter_v6/rNMFZpBm_shared_route.json": [
        Expected(
            "GKj54MVFppoYsxPU9jMn7CMniVRAuveFadyTtFhn1vXy",
            "sell",
            "CMjfdovtzmgRsnhE1cCzdwDFGKt1UzZB4oCGQchQpump",
            634862142081,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            47461249,
        ),
    ],
    "meteora_damm/2drUaXQW_v2_multi_b64.json": [
        Expected(
            "68JB6KNa7ognSGgN4JuHbVusYJxakMq7TRvEp3r1yqQS",
            "buy",
            "EhdHd1ma9zPdy5uz1iBv8sJsRAQjNt4JJsbLL4DDS75k",
            10284665347857,
            None,
            None,
        ),
        Expected(
            "JB2wzKZQFxCTMDZmkv9KmmWe6PfT3MgXdG5vP4AZhcG6",
            "sell",
            "EhdHd1ma9zPdy5uz1iBv8sJsRAQjNt4JJsbLL4DDS75k",
            10793027507021,
            None,
            None,
        ),
    ],
    "meteora_damm/3jZxVjWD_v2_direct_b64.json": [
        Expected(
            "HGvWwk2to7MrrSsihsHh6vRTaFVUYq8Y1JcyXU1rdqNw",
            "buy",
            "F9F3bKpvdaXgTYW43gvVcY6X5ds3yCGvyXfNdFQ76ZkJ",
            6730447370930,
            None,
            None,
        ),
    ],
    "meteora_damm/4AXYPQ38_v1_direct_b64.json": [
        Expected(
            "GeCCKXepkw4Mb6xbbt449d2w8DoSbyPUJ7aq7M5B5DKg",
            "sell",
            "STrikemJEk2tFVYpg7SMo9nGPrnJ56fHnS1K7PV2fPw",
            61124953617,
            None,
            None,
        ),
    ],
    "meteora_damm/5haKE9YZ_v1_vault_b64.json": [
        Expected(
            "HUamh5mjKXVTfJ2HQazdJxAzJdsSBdQaesFSZhWtQc3H",
            "sell",
            "STrikemJEk2tFVYpg7SMo9nGPrnJ56fHnS1K7PV2fPw",
            35043070494,
            None,
            None,
        ),
    ],
    "meteora_dlmm/4eWF8WK5_routed_b64.json": [
        Expected(
            "6pJRLj7rhRBpe1c9Ld76rKSg8v5oELyiQE2sKb3f7hVc",
            "sell",
            "SKRbvo6Gf7GondiT3BbTfuRDPqLWei4j2Qy2NPGZhW3",
            1000000,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            16209,
        ),
    ],
    "okx_router/2bhr1FWq_swap.json": [
        Expected(
            "E8oVrS4Pk74ouemj4t6grJ6w5Ah7SFLYa8VoRtvtWpnw",
            "swap",
            "ED5nyyWEzpPPiWimP8vYm7sD7TD3LAt3Q3gRTWHzPJBY",
            74619,
            "7atgF8KQo4wJrD5ATGX7t1V2zVvykPJbFfNeVf1icFv1",
            358800,
        ),
    ],
    "okx_router/31ycbQtF_swap.json": [
        Expected(
            "EfbbhahGNuhqEraRZXrwETfsaKxScngEttdQixWAW4WE",
            "buy",
            "KMnDBXcPXoz6oMJW5XG4tXdwSWpmWEP2RQM1Uujpump",
            998528432013,
            None,
            None,
        ),
    ],
    "okx_router/3DZuPoKR_commission_sol_swap.json": [
        Expected(
            "AG27WXxPym3K73JFKtpRxwbMfnRnuPu5bn6juzcvq5rp",
            "buy",
            "28ECNMKBj66GMBJxq1c3VyzJiKY5gDp2sEYc92Ybpump",
            5238716646,
            None,
            None,
        ),
    ],
    "okx_router/3p36wGRa_commission_spl_swap.json": [
        Expected(
            "GKj54MVFppoYsxPU9jMn7CMniVRAuveFadyTtFhn1vXy",
            "buy",
            "DKu9kykSfbN5LBfFXtNNDPaX35o4Fv6vJ9FKk7pZpump",
            6373264828,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            250000000,
        ),
    ],
    "okx_router/3zSKxVAH_swap.json": [
        Expected(
            "FeWbDQ9SpgWS8grNrpFesVquJfxVkRu1WNZerKsrkcbY",
            "sell",
            "HjhCs97TBaJBfaJf3ukzs8CEsGApYjgz88wrhdTPpump",
            58882325154,
            None,
            None,
        ),
    ],
    "orca_whirlpool/4EmApvbs_via_jupiter_b64.json": [
        Expected(
            "3eh2PwUepWpeuhZADdXADCqGNHapXobdrSkwsYdcMiRu",
            "sell",
            "So11111111111111111111111111111111111111112",
            None,
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            2395,
        ),
    ],
    "orca_whirlpool/4EoaRY7j_via_jupiter_b64.json": [
        Expected(
            "9sceVSTJ3bysMbG2ggmhi2NBMtb7KkMAtb4rc1koFdzW",
            "swap",
            "orcaEKTdK7LKz57vaAYr9QeNsVEPfiu6QeMU1kektZE",
            59973572,
            "J1toso1uCk3RLmjorhTtrVwY9HJ7X8V9yYac6Y7kGCPn",
            1000000000,
        ),
    ],
    "orca_whirlpool/5TXPbAPG_via_dflow_b64.json": [
        Expected(
            "AoixKyowYzhuoKUq8GKNHMik7e2maZa8oCFF6yTgSmFZ",
            "buy",
            "HZ1JovNiVvGrGNiiYvEozEVgZ58xaU3RKwX8eACQBCt3",
            174361223,
            None,
            None,
        ),
    ],
    "pumpfun/2o5PQ87f_create_v2_and_buy_b64.json": [
        Expected(
            "XjxGgbZW9K6vbgbptY1nz4VnWZ66qxijrRuQYy6sSgi",
            "buy",
            "ANiYRP7nVdP9aQP2G84WfvRqx6LT7ejniqEY8eMEpump",
            2854168148040,
            None,
            None,
        ),
    ],
    "pumpfun/2s393PSY_create_and_buy.json": [
        Expected(
            "6xo262KbDXepWbF3vPTrFXysr5vJwk3mozBXmXk3hmMx",
            "buy",
            "5dNYcCZXEGfGgbdUdq7MMR7KLsNJLLLgL83wLH8Fpump",
            34612903225806,
            None,
            None,
        ),
    ],
    "pumpfun/3S2vFszS_buy_x4_parsed.json": [
        Expected(
            "CBFCFmju7azw3pDHXWre24PjvDVrYwDdfgiKejmvJJqj",
            "buy",
            "63XVR6bgnKN8Mpt6iavzQH5Z2ig5EGd4sHvrGFuBpump",
            134031426910,
            None,
            None,
        ),
        Expected(
            "AhRYQBSvkAR5WEr1hDFEz6NwfVKkcS5G37ZM14yFUE8A",
            "buy",
            "63XVR6bgnKN8Mpt6iavzQH5Z2ig5EGd4sHvrGFuBpump",
            258072669121,
            None,
            None,
        ),
        Expected(
            "FspiJ3b2s3xoaGVWVidhi5kKhxuzGUMmk7qGGsF3Bpjv",
            "buy",
            "63XVR6bgnKN8Mpt6iavzQH5Z2ig5EGd4sHvrGFuBpump",
            77185002179,
            None,
            None,
        ),
        Expected(
            "HAZyn8MtsGucsi6kJxwybnVjJxi7BtwriRU1SNB6NVft",
            "buy",
            "63XVR6bgnKN8Mpt6iavzQH5Z2ig5EGd4sHvrGFuBpump",
            92456837488,
            None,
            None,
        ),
        Expected(
            "FQNLpC1RtRioMS7eV2K4hpYrrAaVDAQhY5Cx359bpT1i",
            "buy",
            "63XVR6bgnKN8Mpt6iavzQH5Z2ig5EGd4sHvrGFuBpump",
            217932484410,
            None,
            None,
        ),
    ],
    "pumpfun/3bYXWjjN_sell.json": [
        Expected(
            "4DdrfiDHpmx55i4SPssxVzS9ZaKLb8qr45NKY9Er9nNh",
            "sell",
            "CnNVDyM7GXBBcH8giuRYm17YCn6kpFTTbnd6Tx4hpump",
            592443959000000,
            None,
            None,
        ),
    ],
    "pumpfun/3tJczs8y_sell_parsed.json": [
        Expected(
            "3P2pmfQAFTwcC1xWtYbVYoRn3hngya8Kd9jMaF5GfnUa",
            "sell",
            "FstBRGMkNKf4wNvfieYUPS9YsbNoQJMCh6v89zajpump",
            94443000000,
            None,
            None,
        ),
    ],
    "pumpfun/4U8kypMu_buy.json": [
        Expected(
            "EfbbhahGNuhqEraRZXrwETfsaKxScngEttdQixWAW4WE",
            "buy",
            "D66sbPtYqLnwPYcUqjDktrQtb52CnfF77C3sdpNpR8Si",
            56716561396327,
            None,
            None,
        ),
    ],
    "pumpfun/4XQZckrF_buy_parsed.json": [
        Expected(
            "4SrXdKFYoiUfYzWN7YV8kdJ2TkZieDmjVCEJg4mTAun6",
            "buy",
            "FstBRGMkNKf4wNvfieYUPS9YsbNoQJMCh6v89zajpump",
            724879458841,
            None,
            None,
        ),
    ],
    # Issue 15: swaps only for signers; BwWK17cb is the router's vault PDA (off curve), not a trader.
    "pumpfun/53fG8Sh9_buy_b64.json": [],
    "pumpfun/5839B8x1_buy_via_photon.json": [
        Expected(
            "2PhpwXnnnQWQCdiQwkG7Xbq5D3x72vCEGJEQ1kKrMHzi",
            "buy",
            "37AmZ9EYChwuK95dnP6sYYbqcoEbbvEZYJpinSLfpump",
            294233863538,
            None,
            None,
        ),
    ],
    "pumpfun/5KEMtQuv_sell_via_photon.json": [
        Expected(
            "CzXW1cD5H9M6d8uFonRqQA5bvfLQtZdaZFJzqpie88HM",
            "sell",
            "4fSYiTPwwvU9Ym7CGXG4BNLKMcybg2GZXesYevS8pump",
            50287397622085,
            None,
            None,
        ),
    ],
    "pumpfun/5w7YKJBT_buy_maestro_b64.json": [
        Expected(
            "GcQEREo3Tg1AAdzGp4tD3bzxue8QCAcs79s7Jyqhf6G2",
            "sell",
            "DFcWNX7eoQarpduYpjHaBDk5QhXaecnDCmkBhTmxpump",
            5278858153234,
            None,
            None,
        ),
    ],
    "pumpfun/5zkqEKXP_buy.json": [
        Expected(
            "Geu1Jtgp2vkWmBq9KL4FozLFx1LAEjpntEfjFuWf6QW7",
            "buy",
            "9Tpa8ewVT3JaZgiSKoTHjcJj6NGRyF4bJT8CyXpxpump",
            3254684009577,
            None,
            None,
        ),
    ],
    "pumpfun/628Q5CDN_buy_via_photon.json": [
        Expected(
            "DfMxre4cKmvogbLrPigxmibVTTQDuzjdXojWzjCXXhzj",
            "buy",
            "HQ4SzFMwYo8TXds1bHD2TvZdL7S75hK8w775rWrVpump",
            5609742876530,
            None,
            None,
        ),
    ],
    "pumpfun/JBnrBbgq_buy_x3_bundle.json": [
        Expected(
            "Gh6D6DZcASQLc2XoLpctT74KbRr4nrHF8wNptweckHoA",
            "buy",
            "ED5nyyWEzpPPiWimP8vYm7sD7TD3LAt3Q3gRTWHzPJBY",
            12373970345963,
            None,
            None,
        ),
        Expected(
            "7SPkzf8DSxdemSKMEEKquRKEYrdDjcuHaQwac5nvnB4b",
            "buy",
            "ED5nyyWEzpPPiWimP8vYm7sD7TD3LAt3Q3gRTWHzPJBY",
            12100159018198,
            None,
            None,
        ),
        Expected(
            "GdCFP1doq784rQTHJDuvpLchVWoMtJwdAM8MQTCHWTuz",
            "buy",
            "ED5nyyWEzpPPiWimP8vYm7sD7TD3LAt3Q3gRTWHzPJBY",
            12023935360031,
            None,
            None,
        ),
        Expected(
            "8rL9duqqeBRzZZyiz77xgfzDUdbR99TPjmVk5D1LNHuL",
            "buy",
            "ED5nyyWEzpPPiWimP8vYm7sD7TD3LAt3Q3gRTWHzPJBY",
            12044860698416,
            None,
            None,
        ),
    ],
    "pumpfun/ZEu54dZe_buy.json": [
        Expected(
            "4DdrfiDHpmx55i4SPssxVzS9ZaKLb8qr45NKY9Er9nNh",
            "buy",
            "7nYhDYAxQdFn2DRPcjBFPQQz5qb8HeFiJv9o9w6fpump",
            34612901212710,
            None,
            None,
        ),
    ],
    "pumpswap/3f8wSLzx_swap_via_bloom_b64.json": [
        Expected(
            "8NTAL7YTB2f18rzbicdoy8EV1pU6bEgmHahUPWtvh5nM",
            "buy",
            "Hc2CZzfiuBuSjTg6mpUByHVryy5e4yu8L7L4vtppump",
            139189999037,
            None,
            None,
        ),
    ],
    "pumpswap/5UF9X1wb_swap_via_bananagun_b64.json": [
        Expected(
            "7icYz9gzLUm2y2aHEyMGddKKN5idLbFLnThYAkxqJnPM",
            "sell",
            "GUfyGEF62BUUqj5f5PveZknhBQMWWFSXm2jqAdikpump",
            169054631837,
            None,
            None,
        ),
    ],
    "pumpswap/UeaUs9PG_swap_photon_b64.json": [
        Expected(
            "DGXengUJiFaTVRcpavPJK7vcRVUoSSvhhuuxstLprDBt",
            "sell",
            "3oQE6aocp6z4dBaeUp5ed5iGG5tLotMZxiALxb7zpump",
            4292995878271,
            None,
            None,
        ),
    ],
    "pumpswap/gauADRJV_swap_b64.json": [
        Expected(
            "35f43Y1q1EQuKPrDSN4KCuFCdR3oV8ahC4LxyRLYumsA",
            "buy",
            "2Dg6nRk3m9QfFS7TvLwgkfzTbzfbyErHt2aXym1Z8Gxy",
            4805881562093,
            None,
            None,
        ),
        Expected(
            "4reQunzDAHq7nttuigPPpmeuntKnaUoBj5dUfRCcBSsB",
            "sell",
            "2Dg6nRk3m9QfFS7TvLwgkfzTbzfbyErHt2aXym1Z8Gxy",
            4784285004634,
            None,
            None,
        ),
    ],
    "raydium_amm_v4/2XgzfkWe_sell.json": [
        Expected(
            "orcACRJYTFjTeo2pV8TfYRTpmqfoYgbVi9GeANXTCc8",
            "sell",
            "AaJ6gmTzaQw9zxfK6BD9N89wzZLuSuwTRbi8YrTCpump",
            22254340082,
            None,
            None,
        ),
    ],
    "raydium_amm_v4/3XAnhzL2_via_nova_bot_b64.json": [
        Expected(
            "2Wss5C8j55S2N68wqNZzJHxBFYYq4rNLeQgsYAZmVjv3",
            "sell",
            "EgM6UaAfDo1SRVBm64SLMy6iEojtVSraKfhvt1K2m7SD",
            1211003151898,
            None,
            None,
        ),
    ],
    "raydium_amm_v4/3aQZsNRU_sell.json": [
        Expected(
            "Do3UdALe5F7NRXB4uYcBzZtCbAt8ssu4a5kGZVucKhC5",
            "sell",
            "2CrtdajpSb7DpMRLKP4yMtFLbCsWZjMkEvgSTf4Ypump",
            836112233953,
            None,
            None,
        ),
    ],
    "raydium_amm_v4/3rTFfi82_buy.json": [
        Expected(
            "CWE3HQZxPyNT9tuLCtBwYjC16oJz2fgkmRRR1vBJzkVL",
            "buy",
            "HhUVkZ1qz8vfMqZDemLyxBFxrHFKVSYAk7a6227Lpump",
            92529930455,
            None,
            None,
        ),
    ],
    "raydium_amm_v4/43W2EWit_buy_x5_parsed.json": [
        Expected(
            "FspiJ3b2s3xoaGVWVidhi5kKhxuzGUMmk7qGGsF3Bpjv",
            "buy",
            "GPrF7LXiQAY8Y9Fci7et2C7a9JsrCBDRvEAKLCjLpump",
            135637377613,
            None,
            None,
        ),
        Expected(
            "76eHieXJoWX6yQeJGCpmWpb8ZcxfV9WSxTKpfL2fR5p8",
            "buy",
            "GPrF7LXiQAY8Y9Fci7et2C7a9JsrCBDRvEAKLCjLpump",
            65181556763,
            None,
            None,
        ),
        Expected(
            "9Ck8gs6XVNMamF5Sgems7Zruk2FBbn9TpoT6CsSwpf1H",
            "buy",
            "GPrF7LXiQAY8Y9Fci7et2C7a9JsrCBDRvEAKLCjLpump",
            151244487912,
            None,
            None,
        ),
        Expected(
            "AbDEzSQDrPEQYs8HDMcQbyL1EAuuDD9kAnQegAJkvsGq",
            "buy",
            "GPrF7LXiQAY8Y9Fci7et2C7a9JsrCBDRvEAKLCjLpump",
            62109009099,
            None,
            None,
        ),
        Expected(
            "Fm22dvRBNVunAotTW3TZVRhFHH4WcsDY1XKGfPhqpuY",
            "buy",
            "GPrF7LXiQAY8Y9Fci7et2C7a9JsrCBDRvEAKLCjLpump",
            158742070732,
            None,
            None,
        ),
    ],
    "raydium_amm_v4/4bfz4iWG_via_jupiter_b64.json": [
        Expected(
            "GTGZY9JwajyCFVN7dRPj9S9dhJn5msW17kYCZGKK2nk3",
            "swap",
            "A8C3xuqscfmyLrte3VmTqrAq8kgMASius9AFNANwpump",
            27109548639,
            "6AJcP7wuLwmRYLBNbi825wgguaPsWzPBEHcHndpRpump",
            8582424065,
        ),
    ],
    "raydium_amm_v4/4pAEq48c_buy.json": [
        Expected(
            "ECvj86nDupkVh1cDgxrJw3zJkw3ahcDiVB3pPTbpskjD",
            "buy",
            "E8yBUD4AGdxK7MbQEf85oaAvVBuSoRsGCvX2sMxSpump",
            43045438075,
            None,
            None,
        ),
    ],
    "raydium_amm_v4/64VaJMLF_direct_b64.json": [
        Expected(
            "MfDuWeqSHEqTFVYZ7LoexgAK9dxk7cy4DFJWjWMGVWa",
            "buy",
            "4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R",
            228567737,
            None,
            None,
        ),
    ],
    "raydium_amm_v4/QfFVu1P4_buy.json": [
        Expected(
            "FQT9SSwEZ6UUQxsmTzgt5JzjrS4M5zm13M1QiYF8TEo6",
            "buy",
            "DNrmDMs2czDaAwgzg2BmvM7Jn5ZqA6VN5huRqCrSpump",
            4036960523,
            None,
            None,
        ),
    ],
    "raydium_amm_v4/ofdtgS5s_sell_base_out_parsed.json": [
        Expected(
            "CaShxDq2Vbdp2XryjDdUZthbTzwYsvKuH6Knn9pPi4xU",
            "sell",
            "9Zw3CR7NPD6hXNk5PZYpYKsvWv9puwr1eEaPxXRapump",
            10123879371073,
            None,
            None,
        ),
    ],
    "raydium_clmm/2QKwmn6B_via_raydium_route_b64.json": [
        Expected(
            "31k2metxvXzW3rrmhe6xvrmGfY4s4fFVaaWf7qCzup15",
            "buy",
            "XsueG8BtpquVJX9LVLLEGuViXUungE6WmK5YZ3p3bd1",
            32539102,
            None,
            None,
        ),
    ],
    "raydium_clmm/2TLZzAYX_direct_b64.json": [
        Expected(
            "AeBuVwhJkEbi2Wt4hbGACjrVahKUUwRKmP1CQHeMjwTS",
            "buy",
            "9216EVKKLoYFyCZGkQgUDiQAvynz85Nb56vGXpbT5Qkk",
            405523564062,
            None,
            None,
        ),
    ],
    "raydium_clmm/3KueivTT_labelled_raydium_amm_b64.json": [
        Expected(
            "GGwMTvS7VanhdYehw4PZ1gpB2CrWMCFyfN8Zm8Nf54ha",
            "sell",
            "USDH1SM1ojwWUga67PGrgFWUHibbjqMvuMaDkRJTgkX",
            16772752,
            None,
            None,
        ),
    ],
    "raydium_cpmm/2DAFiTzY_direct_b64.json": [
        Expected(
            "9Xi8kDLnfd8nWHXHWV7crFe1FmYR1uQtEnsHHPqXDU23",
            "sell",
            "92Wc1qXtTYoLLVqYZL53Py5dh2gjUPG4o3qd4fcmNrSE",
            24139725097425,
            None,
            None,
        ),
    ],
    "raydium_cpmm/5si5yrFv_via_router_b64.json": [
        Expected(
            "FaKcMB8rebNiAa1FUZYhRgWV9LTcTcQSvGToQNgHGP8M",
            "sell",
            "C6AXzbdc3cUgfVFrkgQjKisZokM3bh4T3gmgkv1NCtLh",
            3003373720923,
            None,
            None,
        ),
    ],
    "raydium_launchlab/3s8VMVAg_via_jupiter_b64.json": [
        Expected(
            "6r1P4fWTGsK71xvaYG1PK5Kfcj2buP4MW2vFgkTXKA9M",
            "sell",
            "9hagXq16LZMT3DmCf16S7npUaxESZpsHdKkWUQab3ray",
            20261126631,
            None,
            None,
        ),
    ],
    "negatives/4QvTLiNg_nonswap_raydium_v4_create_pool_b64.json": [
        Expected(
            "a7JqDmv5zTyh9cQBtsVreYWpeW1vZZ5CDRAN3nyGLXC",
            "sell",
            "6ZrYhkwvoYE4QqzpdzJ7htEHwT2u2546EkTNJ7qepump",
            55159038171,
            "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB",
            16387972,
        ),
    ],
}

# Genuinely ambiguous: no swap may be attributed to the fee payer, whose own balances hold no token leg.
#  - jupiter_v6/5GBnLmT8: Jupiter v4+v6 arbitrage, every token account of the signer nets to 0.
#  - raydium_cpmm/4AUyJRZd, 5GBS79ci: the signer only pays fees / nets WSOL; tokens move between accounts
#    owned by program PDAs.
#  - meteora_dlmm/3izFs7kd: the token seller 3qrD9c25 is a router custody account funded by the signer,
#    its SOL proceeds go elsewhere; only side, mint and amount are certain (checked below with wallet=).
NO_SIGNER_SWAP = [
    "jupiter_v6/5GBnLmT8_v4_and_v6_b64.json",
    "raydium_cpmm/4AUyJRZd_labelled_sugar_b64.json",
    "raydium_cpmm/5GBS79ci_labelled_heaven_b64.json",
    "meteora_dlmm/3izFs7kd_routed_b64.json",
]
MISLABELLED_NEGATIVES = {"negatives/4QvTLiNg_nonswap_raydium_v4_create_pool_b64.json"}
EVENT_CPI_TAG = bytes.fromhex("e445a52e51cb9a1d")
TRADE_EVENT = bytes.fromhex("bddb7fd34ee661ee")
PUMPFUN = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P"


def _all_files(mainnet: Path) -> list[str]:
    return sorted(str(p.relative_to(mainnet)) for p in mainnet.rglob("*.json"))


def _decode(mainnet: Path, name: str, wallet: str | None = None):
    return decode_raw((mainnet / name).read_bytes(), wallet)


def test_every_fixture_is_accounted_for(mainnet: Path) -> None:
    names = _all_files(mainnet)
    assert len(names) >= 98
    swap_files = [n for n in names if not n.startswith(("failed/", "negatives/"))]
    covered = set(EXPECTED_SWAPS) | set(NO_SIGNER_SWAP)
    assert sorted(set(swap_files) - covered) == []


def test_failed_and_negative_fixtures_give_no_swap(mainnet: Path) -> None:
    for name in _all_files(mainnet):
        if name.startswith("failed/"):
            decoded = _decode(mainnet, name)
            assert decoded.failed and decoded.swaps == (), name
        elif name.startswith("negatives/") and name not in MISLABELLED_NEGATIVES:
            decoded = _decode(mainnet, name)
            assert not decoded.failed and decoded.swaps == (), name


@pytest.mark.parametrize("name", sorted(EXPECTED_SWAPS))
def test_swap_fixture_matches_independent_expectation(mainnet: Path, name: str) -> None:
    decoded = _decode(mainnet, name)
    assert not decoded.failed
    expected = EXPECTED_SWAPS[name]
    by_wallet = {swap.wallet: swap for swap in decoded.swaps}
    assert sorted(by_wallet) == sorted(e.wallet for e in expected), name
    for want in expected:
        got = by_wallet[want.wallet]
        assert (got.side, got.mint) == (want.side, want.mint), name
        if want.token_amount is not None:
            assert got.token_amount == want.token_amount, name
        if want.quote_mint is not None:
            assert (got.quote_mint, got.quote_amount) == (want.quote_mint, want.quote_amount), name
        assert got.token_amount > 0 and got.quote_amount > 0
        # Filtering by wallet gives exactly that trader's swap.
        only = _decode(mainnet, name, want.wallet)
        assert [s.wallet for s in only.swaps] == [want.wallet]


@pytest.mark.parametrize("name", NO_SIGNER_SWAP)
def test_ambiguous_fixtures_attribute_nothing_to_the_fee_payer(mainnet: Path, name: str) -> None:
    raw = json.loads((mainnet / name).read_bytes())
    fee_payer = _signers(raw)[0]
    assert _decode(mainnet, name, fee_payer).swaps == ()


def test_router_custody_seller_is_certain_in_side_mint_amount(mainnet: Path) -> None:
    (swap,) = _decode(
        mainnet, "meteora_dlmm/3izFs7kd_routed_b64.json", "3qrD9c25pkdFSNWewtpX3jB4CvuFMDstmDWqe2iqFgdn"
    ).swaps
    assert (swap.side, swap.mint, swap.token_amount) == (
        "sell",
        "4df1wZoygsynEZ6XmpcoabrVwv7nBgjHLyCns5xApump",
        2947910000,
    )


def test_mislabelled_negative_matches_its_ray_log(mainnet: Path) -> None:
    name = "negatives/4QvTLiNg_nonswap_raydium_v4_create_pool_b64.json"
    raw = json.loads((mainnet / name).read_bytes())
    ray_log = next(line.split("ray_log: ")[1] for line in raw["meta"]["logMessages"] if "ray_log: " in line)
    log = base64.b64decode(ray_log)
    assert log[0] == 3  # SwapBaseIn log
    amount_in = int.from_bytes(log[1:9], "little")
    (swap,) = _decode(mainnet, name).swaps
    assert swap.side == "sell" and swap.token_amount == amount_in


def _signers(raw: dict) -> list[str]:
    body = raw["transaction"]
    if isinstance(body, list):
        from solders.transaction import VersionedTransaction

        message = VersionedTransaction.from_bytes(base64.b64decode(body[0])).message
        return [str(k) for k in message.account_keys[: message.header.num_required_signatures]]
    keys = body["message"]["accountKeys"]
    if isinstance(keys[0], dict):
        return [k["pubkey"] for k in keys if k["signer"]]
    return keys[: body["message"]["header"]["numRequiredSignatures"]]


def _trade_events_from_logs(raw: dict) -> list[tuple[str, int, int, bool, str]]:
    """Pump TradeEvents read from the "Program data:" log lines (a source the decoder does not use)."""
    from solders.pubkey import Pubkey

    events = []
    stack: list[str] = []  # which program is running: any Anchor program may name an event TradeEvent
    for line in raw["meta"]["logMessages"]:
        words = line.split()
        if len(words) >= 3 and words[0] == "Program" and words[2] == "invoke":
            stack.append(words[1])
        elif len(words) >= 3 and words[0] == "Program" and words[2] in ("success", "failed:"):
            if stack:
                stack.pop()
        if not line.startswith("Program data: ") or not stack or stack[-1] != PUMPFUN:
            continue
        data = base64.b64decode(line.removeprefix("Program data: "))
        if data[:8] != TRADE_EVENT:
            continue
        mint = str(Pubkey.from_bytes(data[8:40]))
        sol_amount = int.from_bytes(data[40:48], "little")
        token_amount = int.from_bytes(data[48:56], "little")
        events.append((mint, sol_amount, token_amount, data[56] == 1, str(Pubkey.from_bytes(data[57:89]))))
    return events


# Issue 15: events that are not the wallet's whole trade. 2pfnv4dr pays USDC through a SOL hop into
# pump.fun (its swap is USDC -> token, see tests/unit/test_decoder_routes.py); 53fG8Sh9's event user is a
# router vault PDA, which gets no swap.
EVENT_IS_ONE_HOP = {"jupiter_v6/2pfnv4dr_route.json", "pumpfun/53fG8Sh9_buy_b64.json"}


def test_pumpfun_amounts_match_trade_event_exactly(mainnet: Path) -> None:
    checked = 0
    for name in _all_files(mainnet):
        if name in EVENT_IS_ONE_HOP:
            continue
        raw = json.loads((mainnet / name).read_bytes())
        if raw["meta"]["err"] is not None or not raw["meta"].get("logMessages"):
            continue
        events = _trade_events_from_logs(raw)
        if not events:
            continue
        swaps = {(s.wallet, s.mint): s for s in _decode(mainnet, name).swaps}
        for mint, sol_amount, token_amount, is_buy, user in events:
            swap = swaps[(user, mint)]
            assert (swap.quote_mint, swap.quote_amount, swap.token_amount) == (
                WSOL_MINT,
                sol_amount,
                token_amount,
            )
            assert swap.side == ("buy" if is_buy else "sell") and swap.venue == "pumpfun"
            checked += 1
    assert checked >= 20


def test_quote_excludes_rent_fee_and_tips(mainnet: Path) -> None:
    # ofdtgS5s: sell with ATA close; proceeds are the pool's WSOL outflow (42094), not the rent refund.
    (swap,) = _decode(mainnet, "raydium_amm_v4/ofdtgS5s_sell_base_out_parsed.json").swaps
    assert swap.quote_amount == 42094
    # gauADRJV: PumpSwap buy; the fee payer's SOL delta minus the tx fee is exactly the event's amount.
    raw = json.loads((mainnet / "pumpswap/gauADRJV_swap_b64.json").read_bytes())
    meta = raw["meta"]
    spent = meta["preBalances"][0] - meta["postBalances"][0] - meta["fee"]
    buy = next(s for s in _decode(mainnet, "pumpswap/gauADRJV_swap_b64.json").swaps if s.side == "buy")
    assert buy.quote_amount == spent


def test_encodings_agree_and_v0_lookup_tables_resolve(mainnet: Path) -> None:
    # No signature is stored twice, so rebuild the base64 wire form of a v0 json fixture with solders.
    from solders.hash import Hash
    from solders.instruction import CompiledInstruction
    from solders.message import MessageAddressTableLookup, MessageHeader, MessageV0
    from solders.pubkey import Pubkey
    from solders.signature import Signature
    from solders.transaction import VersionedTransaction

    name = "raydium_amm_v4/3rTFfi82_buy.json"
    raw = json.loads((mainnet / name).read_bytes())
    loaded = raw["meta"]["loadedAddresses"]
    assert loaded["writable"] or loaded["readonly"]
    message = raw["transaction"]["message"]
    header = message["header"]
    v0 = MessageV0(
        MessageHeader(
            header["numRequiredSignatures"],
            header["numReadonlySignedAccounts"],
            header["numReadonlyUnsignedAccounts"],
        ),
        [Pubkey.from_string(k) for k in message["accountKeys"]],
        Hash.from_string(message["recentBlockhash"]),
        [
            CompiledInstruction(ix["programIdIndex"], b58decode(ix["data"]), bytes(ix["accounts"]))
            for ix in message["instructions"]
        ],
        [
            MessageAddressTableLookup(
                Pubkey.from_string(lut["accountKey"]),
                bytes(lut["writableIndexes"]),
                bytes(lut["readonlyIndexes"]),
            )
            for lut in message["addressTableLookups"]
        ],
    )
    signatures = [Signature.from_string(sig) for sig in raw["transaction"]["signatures"]]
    wire = bytes(VersionedTransaction.populate(v0, signatures))
    as_b64 = dict(raw, transaction=[base64.b64encode(wire).decode(), "base64"])
    from_json, from_b64 = decode_transaction(raw), decode_transaction(as_b64)
    assert from_json.swaps and from_b64 == from_json
    # Dropping the lookup-table addresses must not silently misattribute balances.
    without_alts = json.loads(json.dumps(raw))
    without_alts["meta"]["loadedAddresses"] = {"writable": [], "readonly": []}
    with pytest.raises(DecodeError):
        decode_transaction(without_alts)
    # jsonParsed fixtures carry lookup-table keys inline; one decodes with the right trader.
    parsed = _decode(mainnet, "raydium_amm_v4/ofdtgS5s_sell_base_out_parsed.json")
    assert parsed.swaps[0].wallet == "CaShxDq2Vbdp2XryjDdUZthbTzwYsvKuH6Knn9pPi4xU"


def test_envelope_and_garbage_inputs(mainnet: Path) -> None:
    raw = (mainnet / "pumpfun/ZEu54dZe_buy.json").read_bytes()
    envelope = orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": orjson.loads(raw)})
    assert decode_raw(envelope) == decode_raw(raw)
    for garbage in (
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"meta": 3}',
        b'{"result": null, "jsonrpc": "2.0"}',
        raw[: len(raw) // 2],
        b'{"meta": {}, "transaction": ["!!", "base64"]}',
    ):
        with pytest.raises(DecodeError):
            decode_raw(garbage)
    broken = orjson.loads(raw)
    broken["meta"]["preBalances"] = broken["meta"]["preBalances"][:-1]
    with pytest.raises(DecodeError):
        decode_transaction(broken)
    with pytest.raises(DecodeError):
        decode_transaction(orjson.loads(raw), wallet=123)  # type: ignore[arg-type]


def test_to_json_dict_round_trips(mainnet: Path) -> None:
    decoded = _decode(mainnet, "pumpfun/JBnrBbgq_buy_x3_bundle.json")
    as_json = orjson.loads(orjson.dumps(decoded.to_json_dict()))
    assert as_json["signature"] == decoded.signature and len(as_json["swaps"]) == 4
    assert all(
        isinstance(s["token_amount"], int) and isinstance(s["quote_amount"], int) for s in as_json["swaps"]
    )


def test_unknown_venue_needs_opt_in_and_registration_names_it() -> None:
    tx = _sim_trade()
    assert decode_transaction(tx).swaps == ()
    (swap,) = decode_transaction(
        tx, "Trader1111111111111111111111111111111111111", allow_unknown_venue=True
    ).swaps
    assert (swap.side, swap.token_amount, swap.quote_amount, swap.venue) == (
        "buy",
        5_000_000,
        1_000_000_000,
        "unknown",
    )
    register_venue_program("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr", "sim")
    try:
        swaps = decode_transaction(tx).swaps
        assert {s.wallet: (s.side, s.venue) for s in swaps} == {
            "Trader1111111111111111111111111111111111111": ("buy", "sim"),
            "MMaker11111111111111111111111111111111111111": ("sell", "sim"),
        }
    finally:
        VENUE_PROGRAMS.pop("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")


def _sim_trade() -> dict:
    """A simulator-style RFQ trade: the market maker co-signs; SOL via System, tokens via SPL + Memo."""
    trader, maker = (
        "Trader1111111111111111111111111111111111111",
        "MMaker11111111111111111111111111111111111111",
    )
    trader_ata, maker_ata = (
        "TraderAta111111111111111111111111111111111",
        "MakerAta1111111111111111111111111111111111",
    )
    mint = "Mint111111111111111111111111111111111111111"
    keys = [
        trader,
        maker,
        trader_ata,
        maker_ata,
        "11111111111111111111111111111111",
        "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
        "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr",
        mint,
    ]
    fee = 10_000

    def balance(index: int, owner: str, amount: int) -> dict:
        return {
            "accountIndex": index,
            "mint": mint,
            "owner": owner,
            "uiTokenAmount": {"amount": str(amount), "decimals": 6},
        }

    return {
        "slot": 1,
        "blockTime": 2,
        "version": 0,
        "transaction": {
            "signatures": ["sig"],
            "message": {
                "header": {"numRequiredSignatures": 2},
                "accountKeys": keys,
                "instructions": [{"programIdIndex": 6, "accounts": [], "data": ""}],
            },
        },
        "meta": {
            "err": None,
            "fee": fee,
            "innerInstructions": [],
            "preBalances": [5_000_000_000, 9_000_000_000, 2_039_280, 2_039_280, 1, 1, 1, 1],
            "postBalances": [4_000_000_000 - fee, 10_000_000_000, 2_039_280, 2_039_280, 1, 1, 1, 1],
            "preTokenBalances": [balance(2, trader, 0), balance(3, maker, 9_000_000)],
            "postTokenBalances": [balance(2, trader, 5_000_000), balance(3, maker, 4_000_000)],
        },
    }
