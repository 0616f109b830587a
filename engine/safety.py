"""Token safety checks before a buy, as pure functions: a mint's facts parsed from getAccountInfo jsonParsed
(authorities, Token-2022 extensions) and the buy's own quotes (price impact, a sell route, pool liquidity)
turned into a skip reason, or None when the token may be bought.

The jsonParsed shape parsed here is the one mainnet's RPC serves from agave's account decoder
(anza-xyz/agave account-decoder/src/parse_token.rs `UiMint`, account-decoder-client-types/src/token.rs
`UiExtension`): `parsed.type == "mint"`, `parsed.info` with `mintAuthority` and `freezeAuthority` (a base58
address or null), `decimals`, `supply` (a string), `isInitialized`, and, for a Token-2022 mint with
extensions only, `extensions`: a list of `{"extension": "<camelCase name>", "state": {...}}` (no `state`
for a unit extension such as `nonTransferable`). The states read here:

    transferFeeConfig  {transferFeeConfigAuthority, withdrawWithheldAuthority, withheldAmount,
                        olderTransferFee: {epoch, maximumFee, transferFeeBasisPoints}, newerTransferFee}
    permanentDelegate  {delegate}
    transferHook       {authority, programId}
    nonTransferable    (no state)

Order of the checks (the first that fails is the reason): mint authority, freeze authority, token
extension (all from the mint, read once and cached by the caller), then price impact, sell route and
liquidity (from the buy's quotes). Facts that are unknown (None) never cause a skip here; the caller
decides whether a mint it cannot read is bought at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.constants import TOKEN_2022_PROGRAM, TOKEN_PROGRAM

# Skip reasons, for the policy's skip vocabulary.
SKIP_MINT_AUTHORITY = "mint authority"
SKIP_FREEZE_AUTHORITY = "freeze authority"
SKIP_TOKEN_EXTENSION = "token extension"
SKIP_PRICE_IMPACT = "price impact"
SKIP_NO_SELL_ROUTE = "no sell route"
SKIP_LIQUIDITY = "liquidity"
SAFETY_SKIP_REASONS = (
    SKIP_MINT_AUTHORITY,
    SKIP_FREEZE_AUTHORITY,
    SKIP_TOKEN_EXTENSION,
    SKIP_PRICE_IMPACT,
    SKIP_NO_SELL_ROUTE,
    SKIP_LIQUIDITY,
)

# Token-2022 extensions that can trap a holder: a fee on every transfer (selling included), a delegate
# who can move or burn anyone's tokens, a program that runs (and can refuse) on every transfer, tokens
# that cannot be transferred (so cannot be sold) at all.
EXT_TRANSFER_FEE = "transferFeeConfig"
EXT_PERMANENT_DELEGATE = "permanentDelegate"
EXT_TRANSFER_HOOK = "transferHook"
EXT_NON_TRANSFERABLE = "nonTransferable"
RISKY_EXTENSIONS = (EXT_TRANSFER_FEE, EXT_PERMANENT_DELEGATE, EXT_TRANSFER_HOOK, EXT_NON_TRANSFERABLE)

LAMPORTS_PER_SOL = 1_000_000_000


class MintParseError(ValueError):
    """An account that is not a parsed SPL Token / Token-2022 mint."""


@dataclass(frozen=True)
class MintFacts:
    """What a buy needs to know of a mint, read once (getAccountInfo jsonParsed) and cached."""

    mint: str
    token_program: str  # owner program id
    decimals: int
    supply: int
    mint_authority: str | None
    freeze_authority: str | None
    extensions: Mapping[str, Mapping[str, Any]]  # jsonParsed extension name → its state ({} when none)

    @property
    def is_token_2022(self) -> bool:
        return self.token_program == TOKEN_2022_PROGRAM

    @property
    def transfer_fee_bps(self) -> int:
        """The larger of the older and newer transfer fee (the newer takes effect at its epoch)."""
        state = self.extensions.get(EXT_TRANSFER_FEE)
        if state is None:
            return 0
        fees = [state.get("olderTransferFee") or {}, state.get("newerTransferFee") or {}]
        return max(int(fee.get("transferFeeBasisPoints") or 0) for fee in fees)

    def risky_extensions(self) -> list[str]:
        """The trap extensions, each as a short phrase for the skip detail (empty: none)."""
        found: list[str] = []
        fee_state = self.extensions.get(EXT_TRANSFER_FEE)
        if fee_state is not None:
            bps = self.transfer_fee_bps
            if bps:
                found.append(f"transfer fee ({bps} bps)")
            elif fee_state.get("transferFeeConfigAuthority"):
                found.append("transfer fee (0 bps now; its authority can raise it)")
        delegate = self.extensions.get(EXT_PERMANENT_DELEGATE)
        if delegate is not None and delegate.get("delegate"):
            found.append(f"permanent delegate {delegate['delegate']}")
        hook = self.extensions.get(EXT_TRANSFER_HOOK)
        if hook is not None and hook.get("programId"):
            found.append(f"transfer hook {hook['programId']}")
        if EXT_NON_TRANSFERABLE in self.extensions:
            found.append("non-transferable")
        return found


def parse_mint_account(mint: str, account: Mapping[str, Any] | None) -> MintFacts:
    """MintFacts from getAccountInfo's `result.value` with encoding jsonParsed; MintParseError when the
    account does not exist or is not a parsed token mint."""
    if account is None:
        raise MintParseError(f"mint {mint} does not exist")
    owner = account.get("owner")
    if owner not in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM):
        raise MintParseError(f"{mint} is not a token mint (owner {owner})")
    data = account.get("data")
    parsed = data.get("parsed") if isinstance(data, Mapping) else None
    if not isinstance(parsed, Mapping) or parsed.get("type") != "mint":
        raise MintParseError(f"{mint} is not a token mint (no parsed mint data)")
    info = parsed.get("info")
    if not isinstance(info, Mapping):
        raise MintParseError(f"{mint}: parsed mint has no info")
    extensions: dict[str, Mapping[str, Any]] = {}
    for entry in info.get("extensions") or ():
        if isinstance(entry, Mapping) and isinstance(entry.get("extension"), str):
            state = entry.get("state")
            extensions[entry["extension"]] = state if isinstance(state, Mapping) else {}
    try:
        return MintFacts(
            mint=mint,
            token_program=str(owner),
            decimals=int(info["decimals"]),
            supply=int(info["supply"]),
            mint_authority=info.get("mintAuthority") or None,
            freeze_authority=info.get("freezeAuthority") or None,
            extensions=extensions,
        )
    except (KeyError, TypeError, ValueError):
        raise MintParseError(f"{mint}: parsed mint lacks decimals or supply") from None


@dataclass(frozen=True)
class SafetyRules:
    """[safety] as the checks use it; 0 or False turns a check off."""

    reject_mint_authority: bool = True
    reject_freeze_authority: bool = True
    reject_token_extensions: bool = True
    max_price_impact_pct: float = 10.0
    require_sell_route: bool = True
    min_liquidity_sol: float = 0.0

    @classmethod
    def from_settings(cls, settings: Any) -> SafetyRules:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class SafetySkip:
    """Do not buy: reason is one of SAFETY_SKIP_REASONS, detail says what was found."""

    reason: str
    detail: str


def check_mint(facts: MintFacts, rules: SafetyRules) -> SafetySkip | None:
    """The mint checks: authorities, then trap extensions."""
    if rules.reject_mint_authority and facts.mint_authority:
        return SafetySkip(SKIP_MINT_AUTHORITY, f"{facts.mint_authority} can still mint more supply")
    if rules.reject_freeze_authority and facts.freeze_authority:
        return SafetySkip(SKIP_FREEZE_AUTHORITY, f"{facts.freeze_authority} can freeze our token account")
    if rules.reject_token_extensions:
        risky = facts.risky_extensions()
        if risky:
            return SafetySkip(SKIP_TOKEN_EXTENSION, "Token-2022 " + ", ".join(risky))
    return None


def price_impact_pct(quote: Mapping[str, Any]) -> Decimal | None:
    """A Jupiter quote's priceImpactPct as a percentage. The field is a fraction despite its name
    ("0.0123" is 1.23 %), as Jupiter and the local cluster serve it."""
    raw = quote.get("priceImpactPct")
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return abs(value) * 100 if value.is_finite() else None


def check_quotes(
    rules: SafetyRules,
    *,
    buy_quote: Mapping[str, Any] | None = None,
    sell_route_exists: bool | None = None,
    pool_sol_lamports: int | None = None,
) -> SafetySkip | None:
    """The market checks, from the buy's own quote, whether a sell quote for what it buys exists (None:
    not asked), and the pool's SOL side where the quote or the pool tells it (None: unknown)."""
    if rules.max_price_impact_pct > 0 and buy_quote is not None:
        impact = price_impact_pct(buy_quote)
        limit = Decimal(str(rules.max_price_impact_pct))
        if impact is not None and impact > limit:
            return SafetySkip(SKIP_PRICE_IMPACT, f"buy moves the price {impact:.2f}% (limit {limit:g}%)")
    if rules.require_sell_route and sell_route_exists is False:
        return SafetySkip(SKIP_NO_SELL_ROUTE, "no quote for selling the tokens back to SOL")
    if rules.min_liquidity_sol > 0 and pool_sol_lamports is not None:
        minimum = int(Decimal(str(rules.min_liquidity_sol)) * LAMPORTS_PER_SOL)
        if pool_sol_lamports < minimum:
            return SafetySkip(
                SKIP_LIQUIDITY,
                f"pool holds {Decimal(pool_sol_lamports) / LAMPORTS_PER_SOL:f} SOL "
                f"(minimum {rules.min_liquidity_sol:g})",
            )
    return None


def check_token(
    facts: MintFacts | None,
    rules: SafetyRules,
    *,
    buy_quote: Mapping[str, Any] | None = None,
    sell_route_exists: bool | None = None,
    pool_sol_lamports: int | None = None,
) -> SafetySkip | None:
    """Every check in order: the mint's (when its facts are known), then the quotes'."""
    if facts is not None:
        skip = check_mint(facts, rules)
        if skip is not None:
            return skip
    return check_quotes(
        rules, buy_quote=buy_quote, sell_route_exists=sell_route_exists, pool_sol_lamports=pool_sol_lamports
    )
