"""Program ids and accounts the decoder knows: DEX venues, routers, quote mints, sender tips and bot fees."""

from __future__ import annotations

from typing import Literal

Kind = Literal["amm", "router"]

SYSTEM_PROGRAM = "11111111111111111111111111111111"
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
TOKEN_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
TOKEN_PROGRAMS = frozenset({TOKEN_PROGRAM, TOKEN_2022_PROGRAM})
PUMPFUN_PROGRAM = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P"
PUMPSWAP_PROGRAM = "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA"

WSOL_MINT = "So11111111111111111111111111111111111111112"
USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
USDT_MINT = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"
# Stablecoins a token can be quoted in, in order of preference; SOL/WSOL is handled separately as lamports.
# A swap's quote is one of these or SOL, so a token sold for USDT through a SOL hop is a sale for USDT.
STABLE_MINTS: dict[str, str] = {
    USDC_MINT: "USDC",
    USDT_MINT: "USDT",
    "USD1ttGY1N17NEEHLmELoaybftRBUSErhqYiQzvEmuB": "USD1",
    "2b1kV6DkPAnxd5ixfnxCpjxmKwqjjaYmCZfHsFu24GXo": "PYUSD",
    "USDSwr9ApdHk5bvJKMjzff41FfuX8bSxdKcR81vTwcA": "USDS",
    "2u1tszSeqZ3qBWF3uNGPFc8TzMk2tdiwknnRMWGWjGWH": "USDG",
    "JuprjznTrTSp2UFa3ZBUFgwdAmtZCq4MQCwysN55USD": "JupUSD",
}
STABLE_QUOTE_MINTS = tuple(STABLE_MINTS)

# Where each tip / fee account list comes from (see docs/DECODER.md):
#   senders: the providers' documented tip accounts as collected in sol-trade-sdk's SWQoS constants
#     (mirrored in public parsers, e.g. NoctisLight/mev-bench src/providers/endpoints.rs); Jito from its docs.
#   bots: Dune spellbook bot_trades platform models (the hard-coded fee_receiver of each bot).
# (name, kind, accounts): kind "tip" = a transaction sender's tip, "fee" = a trading bot's or router's fee.
TIP_AND_FEE_ACCOUNT_GROUPS: tuple[tuple[str, Literal["tip", "fee"], tuple[str, ...]], ...] = (
    (
        "jito",
        "tip",
        (
            "96gYZGLnJYVFmbjzopPSU6QiEV5fGqZNyN9nmNhvrZU5",
            "HFqU5x63VTqvQss8hp11i4wVV8bD44PvwucfZ2bU7gRe",
            "Cw8CFyM9FkoMi7K7Crf6HNQqf4uEMzpKw6QNghXLvLkY",
            "ADaUMid9yfUytqMBgopwjb2DTLSokTSzL1zt6iGPaS49",
            "DfXygSm4jCyNCybVYYK6DwvWqjKee8pbDmJGcLWNDXjh",
            "ADuUkR4vqLUMWXxW9gh6D6L8pMSawimctcNZ5pGwDcEt",
            "DttWaMuVvTiduZRnguLF7jNxTgiMBZ1hyAumKUiL2KRL",
            "3AVi9Tg9Uo68tJfuvoKvqKNWKkC5wPdSSdeBnizKZ6jT",
        ),
    ),
    (
        "nozomi",  # Temporal
        "tip",
        (
            "TEMPaMeCRFAS9EKF53Jd6KpHxgL47uWLcpFArU1Fanq",
            "noz3jAjPiHuBPqiSPkkugaJDkJscPuRhYnSpbi8UvC4",
            "noz3str9KXfpKknefHji8L1mPgimezaiUyCHYMDv1GE",
            "noz6uoYCDijhu1V7cutCpwxNiSovEwLdRHPwmgCGDNo",
            "noz9EPNcT7WH6Sou3sr3GGjHQYVkN3DNirpbvDkv9YJ",
            "nozc5yT15LazbLTFVZzoNZCwjh3yUtW86LoUyqsBu4L",
            "nozFrhfnNGoyqwVuwPAW4aaGqempx4PU6g6D9CJMv7Z",
            "nozievPk7HyK1Rqy1MPJwVQ7qQg2QoJGyP71oeDwbsu",
            "noznbgwYnBLDHu8wcQVCEw6kDrXkPdKkydGJGNXGvL7",
            "nozNVWs5N8mgzuD3qigrCG2UoKxZttxzZ85pvAQVrbP",
            "nozpEGbwx4BcGp6pvEdAh1JoC2CQGZdU6HbNP1v2p6P",
            "nozrhjhkCr3zXT3BiT4WCodYCUFeQvcdUkM7MqhKqge",
            "nozrwQtWhEdrA6W8dkbt9gnUaMs52PdAv5byipnadq3",
            "nozUacTVWub3cL4mJmGCYjKZTnE9RbdY5AP46iQgbPJ",
            "nozWCyTPppJjRuw2fpzDhhWbW355fzosWSzrrMYB1Qk",
            "nozWNju6dY353eMkMqURqwQEoM3SFgEKC6psLCSfUne",
            "nozxNBgWohjR75vdspfxR5H9ceC7XXH99xpxhVGt3Bb",
        ),
    ),
    (
        "bloxroute",
        "tip",
        (
            "HWEoBxYs7ssKuudEjzjmpfJVX7Dvi7wescFsVx2L5yoY",
            "95cfoy472fcQHaw4tPGBTKpn6ZQnfEPfBgDQx6gcRmRg",
            "3UQUKjhMKaY2S6bjcQD6yHB7utcZt5bfarRCmctpRtUd",
            "FogxVNs6Mm2w9rnGL1vkARSwJxvLE8mujTv3LK8RnUhF",
        ),
    ),
    (
        "helius_sender",
        "tip",
        (
            "4ACfpUFoaSD9bfPdeu6DBt89gB6ENTeHBXCAi87NhDEE",
            "D2L6yPZ2FmmmTKPgzaMKdhu6EWZcTpLy1Vhx8uvZe7NZ",
            "9bnz4RShgq1hAnLnZbP8kbgBg1kEmcJBYQq3gQbmnSta",
            "5VY91ws6B2hMmBFRsXkoAAdsPHBJwRfBht4DXox3xkwn",
            "2nyhqdwKcJZR2vcqCyrYsaPVdAnFoJjiksCXJ7hfEYgD",
            "2q5pghRs6arqVjRvT5gfgWfWcHWmw1ZuCzphgd5KfWGJ",
            "wyvPkWjVZz1M8fHQnMMCDTQDbkManefNNhweYk5WkcF",
            "3KCKozbAaF75qEU33jtzozcJ29yJuaLJTy2jFdzUY8bT",
            "4vieeGHPYPG2MmyPRcYjdiDmmhN3ww7hsFNap8pVN3Ey",
            "4TQLFNWK8AovT1gFvda5jfw2oJeRMKEmw7aH6MGBJ3or",
        ),
    ),
    (
        "nextblock",
        "tip",
        (
            "NextbLoCkVtMGcV47JzewQdvBpLqT9TxQFozQkN98pE",
            "NexTbLoCkWykbLuB1NkjXgFWkX9oAtcoagQegygXXA2",
            "NeXTBLoCKs9F1y5PJS9CKrFNNLU1keHW71rfh7KgA1X",
            "NexTBLockJYZ7QD7p2byrUa6df8ndV2WSd8GkbWqfbb",
            "neXtBLock1LeC67jYd1QdAa32kbVeubsfPNTJC1V5At",
            "nEXTBLockYgngeRmRrjDV31mGSekVPqZoMGhQEZtPVG",
            "NEXTbLoCkB51HpLBLojQfpyVAMorm3zzKg7w9NFdqid",
            "nextBLoCkPMgmG8ZgJtABeScP35qLa2AMCNKntAP7Xc",
        ),
    ),
    (
        "0slot",
        "tip",
        (
            "Eb2KpSC8uMt9GmzyAEm5Eb1AAAgTjRaXWFjKyFXHZxF3",
            "FCjUJZ1qozm1e8romw216qyfQMaaWKxWsuySnumVCCNe",
            "ENxTEjSQ1YabmUpXAdCgevnHQ9MHdLv8tzFiuiYJqa13",
            "6rYLG55Q9RpsPGvqdPNJs4z5WTxJVatMB8zV3WJhs5EK",
            "Cix2bHfqPcKcM233mzxbLk14kSggUUiz2A87fJtGivXr",
            # An older 0slot set, as listed in mev-bench.
            "6fQaVhYZA4w3MBSXjJ81Vf6W1EDYeUPXpgVQ6UQyU1Av",
            "4HiwLEP2Bzqj3hM2ENxJuzhcPCdsafwiet3oGkMkuQY4",
            "7toBU3inhmrARGngC7z6SjyP85HgGMmCTEwGNRAcYnEK",
            "8mR3wB1nh4D6J9RUCugxUpc6ya8w38LPxZ3ZjcBhgzws",
            "6SiVU5WEwqfFapRuYCndomztEwDjvS5xgtEof3PLEGm9",
            "TpdxgNJBWZRL8UXF5mrEsyWxDWx9HQexA9P1eTWQ42p",
            "D8f3WkQu6dCF33cZxuAsrKHrGsqGP2yvAHf8mX6RXnwf",
            "GQPFicsy3P3NXxB5piJohoxACqTvWE9fKpLgdsMduoHE",
            "Ey2JEr8hDkgN8qKJGrLf2yFjRhW7rab99HVxwi5rcvJE",
            "4iUgjMT8q2hNZnLuhpqZ1QtiV8deFPy2ajvvjEpKKgsS",
            "3Rz8uD83QsU8wKvZbgWAPvCNDU6Fy8TSZTMcPm3RB6zt",
        ),
    ),
    (
        "astralane",
        "tip",
        (
            "astrazznxsGUhWShqgNtAdfrzP2G83DzcWVJDxwV9bF",
            "astra4uejePWneqNaJKuFFA8oonqCE1sqF6b45kDMZm",
            "astra9xWY93QyfG6yM8zwsKsRodscjQ2uU2HKNL5prk",
            "astraRVUuTHjpwEVvNBeQEgwYx9w9CFyfxjYoobCZhL",
            "astraEJ2fEj8Xmy6KLG7B3VfbKfsHXhHrNdCQx7iGJK",
            "astraubkDw81n4LuutzSQ8uzHCv4BhPVhfvTcYv8SKC",
            "astraZW5GLFefxNPAatceHhYjfA1ciq9gvfEg2S47xk",
            "astrawVNP4xDBKT7rAdxrLYiTSTdqtUr63fSMduivXK",
            "AstrA1ejL4UeXC2SBP4cpeEmtcFPZVLxx3XGKXyCW6to",
            "AsTra79FET4aCKWspPqeSFvjJNyp96SvAnrmyAxqg5b7",
            "AstrABAu8CBTyuPXpV4eSCJ5fePEPnxN8NqBaPKQ9fHR",
            "AsTRADtvb6tTmrsqULQ9Wji9PigDMjhfEMza6zkynEvV",
            "AsTRAEoyMofR3vUPpf9k68Gsfb6ymTZttEtsAbv8Bk4d",
            "AStrAJv2RN2hKCHxwUMtqmSxgdcNZbihCwc1mCSnG83W",
            "Astran35aiQUF57XZsmkWMtNCtXGLzs8upfiqXxth2bz",
            "AStRAnpi6kFrKypragExgeRoJ1QnKH7pbSjLAKQVWUum",
            "ASTRaoF93eYt73TYvwtsv6fMWHWbGmMUZfVZPo3CRU9C",
        ),
    ),
    (
        "falcon",
        "tip",
        (
            "Fa1con11xLjPddfzRwRUB16sbFZggp2JeJkCeWREyR8X",
            "Fa1con11TM1RuAQzbQzYjTy4Ekfap9Lnc9fnEbQYEd6Q",
            "Fa1con113Bvi76nS5AzUiRDC2fqjfzkNMUNRLgQybMYt",
            "Fa1con1QGHJK232s8yZpzZZwqPexnAKcoyKj626LNsMv",
            "Fa1con1zUzb6qJVFz5tNkPq1Ahm8H1qKW7Q48252QbkQ",
            "Fa1con16d3MSwd3SAiwvr2LwgkpE7ot8zntbpuec8HAx",
            "Fa1con1i7mpa7Qc6epYJ6r4P9AbU77DFFz173r59Df1x",
            "Fa1con18nWn8TdAGL7JX8PertfMUGVSc899NawokJ4Bq",
            "Fa1con1GKusK2EqsfzrDzGPaYZSxQtFGzJiRMMU9Zm2g",
            "Fa1con1RDwVwM9VrJ53CwVefD3VU9c58EMpDawV7fLMi",
        ),
    ),
    (
        "blockrazor",
        "tip",
        (
            "FjmZZrFvhnqqb9ThCuMVnENaM3JGVuGWNyCAxRJcFpg9",
            "6No2i3aawzHsjtThw81iq1EXPJN6rh8eSJCLaYZfKDTG",
            "A9cWowVAiHe9pJfKAj3TJiN9VpbzMUq6E4kEvf5mUT22",
            "Gywj98ophM7GmkDdaWs4isqZnDdFCW7B46TXmKfvyqSm",
            "68Pwb4jS7eZATjDfhmTXgRJjCiZmw1L7Huy4HNpnxJ3o",
            "4ABhJh5rZPjv63RBJBuyWzBK3g9gWMUQdTZP2kiW31V9",
            "B2M4NG5eyZp5SBQrSdtemzk5TqVuaWGQnowGaCBt8GyM",
            "5jA59cXMKQqZAVdtopv8q3yyw9SYfiE3vUCbt7p8MfVf",
            "5YktoWygr1Bp9wiS1xtMtUki1PeYuuzuCF98tqwYxf61",
            "295Avbam4qGShBYK7E9H5Ldew4B3WyJGmgmXfiWdeeyV",
            "EDi4rSy2LZgKJX74mbLTFk4mxoTgT6F7HxxzG2HBAFyK",
            "BnGKHAC386n4Qmv9xtpBVbRaUTKixjBe3oagkPFKtoy6",
            "Dd7K2Fp7AtoN8xCghKDRmyqr5U169t48Tw5fEd3wT9mq",
            "AP6qExwrbRgBAVaehg4b5xHENX815sMabtBzUzVB4v8S",
        ),
    ),
    (
        "node1",
        "tip",
        (
            "node1PqAa3BWWzUnTHVbw8NJHC874zn9ngAkXjgWEej",
            "node1UzzTxAAeBTpfZkQPJXBAqixsbdth11ba1NXLBG",
            "node1Qm1bV4fwYnCurP8otJ9s5yrkPq7SPZ5uhj3Tsv",
            "node1PUber6SFmSQgvf2ECmXsHP5o3boRSGhvJyPMX1",
            "node1AyMbeqiVN6eoQzEAwCA6Pk826hrdqdAHR7cdJ3",
            "node1YtWCoTwwVYTFLfS19zquRQzYX332hs1HEuRBjC",
        ),
    ),
    (
        "flashblock",
        "tip",
        (
            "FLaShB3iXXTWE1vu9wQsChUKq3HFtpMAhb8kAh1pf1wi",
            "FLashhsorBmM9dLpuq6qATawcpqk1Y2aqaZfkd48iT3W",
            "FLaSHJNm5dWYzEgnHJWWJP5ccu128Mu61NJLxUf7mUXU",
            "FLaSHR4Vv7sttd6TyDF4yR1bJyAxRwWKbohDytEMu3wL",
            "FLASHRzANfcAKDuQ3RXv9hbkBy4WVEKDzoAgxJ56DiE4",
            "FLasHstqx11M8W56zrSEqkCyhMCCpr6ze6Mjdvqope5s",
            "FLAShWTjcweNT4NSotpjpxAkwxUr2we3eXQGhpTVzRwy",
            "FLasHXTqrbNvpWFB6grN47HGZfK6pze9HLNTgbukfPSk",
            "FLAshyAyBcKb39KPxSzXcepiS8iDYUhDGwJcJDPX4g2B",
            "FLAsHZTRcf3Dy1APaz6j74ebdMC6Xx4g6i9YxjyrDybR",
        ),
    ),
    (
        "stellium",
        "tip",
        (
            "ste11JV3MLMM7x7EJUM2sXcJC1H7F4jBLnP9a9PG8PH",
            "ste11MWPjXCRfQryCshzi86SGhuXjF4Lv6xMXD2AoSt",
            "ste11p5x8tJ53H1NbNQsRBg1YNRd4GcVpxtDw8PBpmb",
            "ste11p7e2KLYou5bwtt35H7BM6uMdo4pvioGjJXKFcN",
            "ste11TMV68LMi1BguM4RQujtbNCZvf1sjsASpqgAvSX",
        ),
    ),
    (
        "trojan",
        "fee",
        ("9yMwSPk9mrXSN7yDHUuZurAh1sjbJsfpUqjZ7SvVtdco", "BBYXdwhqbCxVRVtnuMTTxh8biNisz3ZxsnHfr44jXytR"),
    ),
    ("bonkbot", "fee", ("ZG98FUCjb8mJ824Gbs6RsgVmr1FhXb2oNiJHa2dwmPd",)),
    (
        "bananagun",
        "fee",
        (
            "8r2hZoDfk5hDWJ1sDujAi2Qr45ZyZw5EQxAXiMZWLKh2",
            "Cj297UauzMX64FU9dKJZRUBWszJ7tEWpVheasq4CfATV",
            "HKMh8nV3ysSofRi23LsfVGLGQKB415QAEfZT96kCcVj4",
            "7tQiiBdKoScWQkB1RmVuML7DBGnR31cuKPEtMM7Vy5SA",
            "4BBNEVRgrxVKv9f7pMNE788XM1tt379X9vNjpDH2KCL7",
            "47hEzz83VFR23rLTEeVm9A7eFzjJwjvdupPPmX3cePqF",
            "EMbqD9Y9jLXEa3RbCR8AsEW1kVa3EiJgDLVgvKh4qNFP",
            "Lk693UiTzQC4vobasRS1QGcYA9D6RGYLjHp1bWreQtM",
        ),
    ),
    ("bloom", "fee", ("7HeD6sLLqAnKVRuSfc1Ko3BSPMNKWgGTiWLKXJF31vKM",)),
    (
        "maestro",
        "fee",
        ("FRMxAnZgkW58zbYcE7Bxqsg99VWpJh6sMP5xLzAWNabN", "MaestroUL88UBnZr3wfoN7hqmNWFi3ZYCGqZoJJHE36"),
    ),
    (
        "mevx",
        "fee",
        (
            "3kxSQybWEeQZsMuNWMRJH4TxrhwoDwfv41TNMLRzFP5A",
            "BS3CyJ9rRC4Tp8G7f86r6hGvuu3XdrVGNVpbNM9U5WRZ",
            "4Lpvp1q69SHentfYcMBUrkgvppeEx6ovHCSYjg4UYXiq",
        ),
    ),
    (
        "unibot",
        "fee",
        ("8FEE2ghpWPoxsypBLW87yyqmChjUbcZz41V7bzfiJqGF", "7Yr577ubghnmUTvFgB23iPw3FWReMt18WehCz2b2c9mV"),
    ),
    ("nova", "fee", ("noVaE91mUL5jTb8e9Vf6dqJdNPzJpEQ3uAdnQ8h4nVz",)),
    ("wifbot", "fee", ("W1FCMFH3D7QeQcsNSTCMTpJ9BxQdk6VzeQMLJp2dNro",)),
    (
        "sol_trading_bot",
        "fee",
        (
            "HEPL5rTb6n1Ax6jt9z2XMPFJcDe9bSWvWQpsK7AMcbZg",
            "K1LRSA1DSoKBtC5DkcvnermRQ62YxogWSCZZPWQrdG5",
            "F34kcgMgCF7mYWkwLN3WN7KrFprr2NbwxuLvXx4fbztj",
            "96aFQc9qyqpjMfqdUeurZVYRrrwPJG2uPV6pceu4B1yb",
        ),
    ),
    ("shuriken", "fee", ("9cSuF94JWPb1HQzWMcifJzkoggwAtfjsojcUqny5XuJy",)),
    ("readyswap", "fee", ("FNKVZeufZY2me2netdgj44tnxqPK1p5GTJkFWukWFRsN",)),
    ("soul_sniper", "fee", ("6MgcmcZJXfyux7rRSsvjWaG8iegQ29KLxMtWHKoCZ7fn",)),
    ("tradewiz", "fee", ("97VmzkjX9w8gMFS2RnHTSjtMEDbifGXBq9pgosFdFnM",)),
    (
        "prophetbots",
        "fee",
        ("55vkTc7nZoUQM92AfQG7T8bkNKD4TbWeBPRg8KjyUZre", "Hgckz7Sv8Q5grhLXxDFXGaJD6StPE7Yu8gz611nn1wKS"),
    ),
    ("pepeboost", "fee", ("G9PhF9C9H83mAjjkdJz4MDqkufiTPMJkx7TnKE1kFyCp",)),
    ("jupbot", "fee", ("H2mM9cXi42efgwkSzTRKMVaWHrqJJx1nzNdV1NxWaHjC",)),
    (
        "magnum",
        "fee",
        ("CPixcsP8LEMeUoavaHG3bdkywR8s4mZXNN3mYUgbXFev", "8dEe5BM7irAnHtJ6SSWwCRf7njgnyczS3jPrvJJs88U5"),
    ),
    (
        "photon",
        "fee",
        ("JuJcyJeyRrHkAWvfLn8TYtqsCbjEEFepWbqc1gUZmDY", "GbH2v1qM9zPLYkFufqukdxzGFbrhFugmFwwazNjvvGP"),
    ),
    ("gmgn", "fee", ("3t9EKmRiAUcQUYzTZpNojzeGP1KBAVEEbDNmy6wECQpK",)),
)

# Account -> (name, kind): a transfer from a trader to one of these is a tip or a fee, never part of a swap.
TIP_AND_FEE_ACCOUNTS: dict[str, tuple[str, str]] = {
    account: (name, kind) for name, kind, accounts in TIP_AND_FEE_ACCOUNT_GROUPS for account in accounts
}
JITO_TIP_ACCOUNTS = frozenset(TIP_AND_FEE_ACCOUNT_GROUPS[0][2])

# Programs that move or account for value but are not venues: a route through only these and known venues
# has no unknown AMM in it. Anything else invoked is reported as a possible unknown venue.
INFRASTRUCTURE_PROGRAMS = frozenset(
    {
        SYSTEM_PROGRAM,
        TOKEN_PROGRAM,
        TOKEN_2022_PROGRAM,
        "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",  # associated token accounts
        "ComputeBudget111111111111111111111111111111",
        "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr",
        "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo",
        "AddressLookupTab1e1111111111111111111111111",
        "L2TExMFKdjpN9kozasaurPirfHy9P8sbXoAN1qA3S95",  # Lighthouse (wallet assertions)
        "pfeeUxB6jkeY1Hxd7CsFCAjcbHA9rWtchMGdZ6VojVZ",  # pump fee config, called by Pump.fun / PumpSwap
        "24Uqj9JCLxUeoC3hGfh5W3s9FM9uCHDS2SG3LYwBpyTi",  # Meteora vault, called by Meteora DAMM v1
        "T1pyyaTNZsKv2WcRAB8oVnk93mLJw2XzjtVYqCsaHqt",  # Jito tip payment
        "Sysvar1nstructions1111111111111111111111111",
    }
)

# Program id -> (name, kind). "amm" programs hold the liquidity; "router" programs wrap them.
# Mutable on purpose: register_venue_program() adds ids (e.g. the local simulator's market).
VENUE_PROGRAMS: dict[str, tuple[str, Kind]] = {
    PUMPFUN_PROGRAM: ("pumpfun", "amm"),
    PUMPSWAP_PROGRAM: ("pumpswap", "amm"),
    "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8": ("raydium_amm_v4", "amm"),
    "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C": ("raydium_cpmm", "amm"),
    "CAMMCzo5YL8w4VFF8KVHrK22GGUsp5VTaW7grrKgrWqK": ("raydium_clmm", "amm"),
    "LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj": ("raydium_launchlab", "amm"),
    "5quBtoiQqxF9Jv6KYKctB59NT3gtJD2Y65kdnB1Uev3h": ("raydium_stable", "amm"),
    "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc": ("orca_whirlpool", "amm"),
    "9W959DqEETiGZocYWCQPaJ6sBmUzgfxXfqGeTEdp3aQP": ("orca_v2", "amm"),
    "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo": ("meteora_dlmm", "amm"),
    "Eo7WjKq67rjJQSZxS6z3YkapzY3eMj6Xy8X5EQVn5UaB": ("meteora_damm", "amm"),
    "cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG": ("meteora_damm", "amm"),
    "dbcij3LWUppWqq96dh6gJWwBifmcGfLSB5D4DuSMaqN": ("meteora_dbc", "amm"),
    "MoonCVVNZFSYkqNXP6bxHLPL6QQJiMagDL3qcqUQTrG": ("moonshot", "amm"),
    "boop8hVGQGqehUK2iVEMEnMrL5RbjywRzHKBmBE7ry4": ("boop", "amm"),
    "HEAVENoP2qxoeuF8Dj2oT1GHEnu49U5mJYkdeC8BAX2o": ("heaven", "amm"),
    "2wT8Yq49kHgDzXuPxZSaeLaH1qbmGXtEyPy64bL7aD3c": ("lifinity", "amm"),
    "PhoeNiXZ8ByJGLkxNfZRnkUfjvmuYqLR89jjFHGqdXY": ("phoenix", "amm"),
    "obriQD1zbpyLz95G5n7nJe6a4DPjpFwa5XYPoNm113y": ("obric", "amm"),
    "SoLFiHG9TfgtdUXUjWAxi3LtvYuFyDLVhBWxdMZxyCe": ("solfi", "amm"),
    "GAMMA7meSFWaBXF25oSUgmGRwaW6sCMFLmBNiMSdbHVT": ("goosefx_gamma", "amm"),
    "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4": ("jupiter", "router"),
    "JUP4Fb2cqiRUcaTHdrPC8h2gNsA2ETXiPDD33WcGuJB": ("jupiter", "router"),
    "6m2CDdhRgxpH4WjvdzxAYbGxwdGUz5MziiL5jek2kBma": ("okx", "router"),
    "proVF4pMXVaYqmy4NjniPh4pqKNfMmsihgd4wdkCX3u": ("okx", "router"),
    "DF1ow4tspfHX9JwWJsAb9epbkA8hmpSEAtxXy1V27QBH": ("dflow", "router"),
    "routeUGWgWzqBWFcrCfv8tritsqukccJPu3q5GPP3xS": ("raydium_route", "router"),
    "BANANAjs7FJiPQqJTGFzkZJndT9o7UmKiYYGaJz6frGu": ("bananagun", "router"),
    "BSfD6SHZigAfDWSjzD5Q41jw8LmKwtmjskPH9XW1mrRW": ("photon", "router"),
    "BLUR9cL8HqZzu5bSaC7VRX25RCG93Hv3T6NPyKxQhWUT": ("axiom", "router"),
    "MaestroAAe9ge5HTc64VbBQZ6fP77pwvrhM8i1XWSAx": ("maestro", "router"),
    "b1oomGGqPKGD6errbyfbVMBuzSC8WtAAYo8MwNafWW1": ("bloom", "router"),
    "NoVA1TmDUqksaj2hB1nayFkPysjJbFiU76dT4qPw2wm": ("nova", "router"),
    # Proprietary AMMs and newer venues (ids as invoked in the fixtures under tests/fixtures/mainnet).
    "TessVdML9pBGgG9yGks7o4HewRaXVAMuoVj4x83GLQH": ("tesserav", "amm"),
    "9H6tua7jkLhdm3w8BvgpTn5LZNU7g4ZynDmCiNN3q6Rp": ("humidifi", "amm"),
    "SV2EYYJyRz2YhfXwXnhNAevDEui5Q6yrfyo13WtupPF": ("solfi_v2", "amm"),
    "goonERTdGsjnkZqWuVjs73BZ3Pb9qoCUdBUL17BnS5j": ("goonfi", "amm"),
    "goonuddtQRrWqqn5nFyczVKaie28f3kDkHWkHtURSLE": ("goonfi", "amm"),
    "BiSoNHVpsVZW2F7rx2eQ59yQwKxzU5NvBcmKshCSUypi": ("bisonfi", "amm"),
    "REALQqNEomY6cQGZJUGwywTBD2UmDT32rZcNnfxQ5N2": ("byreal", "amm"),
    "ALPHAQmeA7bjrVuccPsYPiCvsi428SNwte66Srvs4pHA": ("alphaq", "amm"),
    "MNFSTqtC93rEfYHB6hF82sKdZpUDFWkViLByLd1k1Ms": ("manifest", "amm"),
    "ZERor4xhbUycZ6gb9ntrhqscUcZmAbQDjEAtCf4hbZY": ("zerofi", "amm"),
    "SCoRcH8c2dpjvcJD6FiPbCSQyQgu3PcUAWj2Xxx3mqn": ("scorch", "amm"),
    "AQU1FRd7papthgdrwPTTq5JacJh8YtwEXaBfKU3bTz45": ("aquifer", "amm"),
    # Jupiter's order engine settles RFQ fills itself: the market maker is the other side, no pool.
    "61DFfeTKM7trxYcPQCM78bJ794ddZprZpAwAnLiwTpYH": ("jupiter_rfq", "amm"),
    "T1TANpTeScyeqVzzgNViGDNrkQ6qHz9KrSBS4aNXvGT": ("titan", "router"),
}


def register_venue_program(program_id: str, venue: str, kind: Kind = "amm") -> None:
    """Teach the decoder a program id (e.g. the simulator's market); affects this process only.

    Register before creating a DecodePool: its children receive a snapshot of this table at start.
    """
    if kind not in ("amm", "router"):
        raise ValueError(f"kind must be 'amm' or 'router', not {kind!r}")
    VENUE_PROGRAMS[program_id] = (venue, kind)


def registered_venues() -> dict[str, tuple[str, Kind]]:
    """A copy of the current table, to hand to child processes."""
    return dict(VENUE_PROGRAMS)
