"""The add/edit trader form: validates the address and numbers inline, then calls the engine facade."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select

from engine.traders import TraderConfig, validate_address
from zapbot_tui.commands.exit_options import ExitOptionError, format_levels, parse_levels
from zapbot_tui.screens.base import ZapModal

# (field, label, placeholder); each gets an Input and an inline error line.
# Placeholders are examples, never the defaults: a cleared field must not look filled in.
TEXT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("name", "Name", "e.g. whale-1"),
    ("wallet", "Wallet", "e.g. 7xKX…AsU (base58)"),
    ("fixed_sol", "Fixed SOL", "e.g. 0.25"),
    ("percent", "Percent", "e.g. 5 (% of leader)"),
    ("min_sol", "Min SOL", "e.g. 0.05"),
    ("max_sol", "Max SOL", "e.g. 2.5"),
    ("slippage_bps", "Slippage bps", "e.g. 150 (= 1.5%)"),
    ("priority_fee", "Priority fee", "e.g. auto or 50000"),
)
LABELS = {field: label for field, label, _ in TEXT_FIELDS}
FLOAT_FIELDS = {"fixed_sol", "percent", "min_sol", "max_sol"}
# The exit rules a trader may override; empty = the [exits] default, 0 = off for this trader.
EXIT_TEXT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("take_profit_pct", "Take profit %", "e.g. 80 (empty: [exits])"),
    ("take_profit_sell_pct", "TP sells %", "e.g. 50 (empty: [exits])"),
    ("take_profit_levels", "TP levels", "e.g. 50:50,100:100"),
    ("stop_loss_pct", "Stop loss %", "e.g. 25 (empty: [exits])"),
    ("trailing_stop_pct", "Trailing %", "e.g. 15 (empty: [exits])"),
    ("trailing_arm_pct", "Trail arm %", "e.g. 30 (empty: [exits])"),
    ("max_hold_minutes", "Max hold min", "e.g. 90 (empty: [exits])"),
)
EXIT_FLOAT_FIELDS = {field for field, _, _ in EXIT_TEXT_FIELDS} - {"take_profit_levels"}
FOLLOW_CHOICES = ((Text("[exits] default"), "default"), (Text("follow"), "yes"), (Text("ignore"), "no"))
ALL_TEXT_FIELDS = TEXT_FIELDS + EXIT_TEXT_FIELDS
CHECK_FIELDS: tuple[tuple[str, str], ...] = (
    ("active", "Active"),
    ("copy_buys", "Copy buys"),
    ("copy_sells", "Copy sells"),
)


def parse_form(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn the form's strings into TraderConfig fields; returns (data, errors by field). Pure."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field, raw in values.items():
        if not isinstance(raw, str):
            data[field] = raw
            continue
        text = raw.strip()
        if field == "wallet":
            try:
                data[field] = validate_address(text)
            except ValueError as exc:
                errors[field] = "enter a wallet address" if not text else str(exc)
        elif field in FLOAT_FIELDS:
            try:
                data[field] = float(text)
            except ValueError:
                errors[field] = "enter a number"
        elif field in EXIT_FLOAT_FIELDS:
            try:
                data[field] = float(text) if text else None
            except ValueError:
                errors[field] = "enter a number (0 = off), or leave empty for [exits]"
        elif field == "take_profit_levels":
            try:
                data[field] = parse_levels(text) if text else None
            except ExitOptionError:
                errors[field] = "enter GAIN:SHARE pairs such as 50:50,100:100"
        elif field == "slippage_bps":
            try:
                data[field] = int(text)
            except ValueError:
                errors[field] = "enter a whole number of basis points (300 = 3%)"
        elif field == "priority_fee":
            if text.lower() in ("", "auto"):
                data[field] = "auto"
            else:
                try:
                    data[field] = int(text)
                except ValueError:
                    errors[field] = 'enter "auto" or a whole number of micro-lamports per CU'
        elif field == "follow_leader_sells":
            data[field] = {"yes": True, "no": False}.get(text)
        else:
            data[field] = text
    return data, errors


def human_error(field: str, message: str) -> str:
    """A validation message in the operator's words, not pydantic's or the model's field names."""
    crossed = re.match(r"min_sol \(([^)]*)\) is above max_sol \(([^)]*)\)", message)
    if crossed:
        return f"minimum {crossed[1]} SOL is above maximum {crossed[2]} SOL"
    unit = " SOL" if field.endswith("_sol") else "%" if field.endswith("_pct") or field == "percent" else ""
    for pattern, words in (
        (r"Input should be greater than or equal to (\S+)", "must be {0}{unit} or more"),
        (r"Input should be greater than (\S+)", "must be more than {0}{unit}"),
        (r"Input should be less than or equal to (\S+)", "must be at most {0}{unit}"),
        (r"Input should be less than (\S+)", "must be less than {0}{unit}"),
        (r"String should have at least 1 character", "cannot be empty"),
        (r"Input should be a finite number", "must be a number"),
        (r"String should have at most (\d+) characters", "must be at most {0} characters"),
    ):
        found = re.match(pattern, message)
        if found:
            return words.format(*found.groups(), unit=unit)
    return message


def build_trader(
    values: dict[str, Any], base: TraderConfig | None = None
) -> tuple[TraderConfig | None, dict[str, str]]:
    """Validate the form into a TraderConfig (keeping base's other settings when editing). Pure."""
    data, errors = parse_form(values)
    if errors:
        return None, errors
    merged = {**(base.model_dump() if base else {}), **data}
    try:
        return TraderConfig(**merged), {}
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "form"
            message = error["msg"].removeprefix("Value error, ")
            if field == "form" and message.startswith("min_sol"):
                field = "min_sol"  # the cross-field rule shows under the minimum, where it is fixed
            errors.setdefault(field if field in values else "form", human_error(field, message))
        return None, errors


class TraderFormScreen(ZapModal[TraderConfig]):
    """Add a trader (engine.add_trader) or edit one (engine.edit_trader); errors stay on the form."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without saving"),
        Binding("ctrl+s", "save", "Save", tooltip="Validate and save the trader"),
    ]

    DEFAULT_CSS = """
    TraderFormScreen > .dialog { width: 80; }
    TraderFormScreen .columns { height: auto; }
    TraderFormScreen .column { width: 1fr; height: auto; }
    TraderFormScreen .column.exits { margin-left: 1; }
    TraderFormScreen .field { height: 1; }
    TraderFormScreen .field > Label { width: 14; }
    TraderFormScreen .field > Input, TraderFormScreen .field > Select { width: 1fr; }
    TraderFormScreen .field-error { color: $error; padding-left: 14; width: 100%; height: auto; display: none; }
    TraderFormScreen .field-error.-shown { display: block; }
    TraderFormScreen .checks { height: 1; margin-top: 1; }
    TraderFormScreen .checks Checkbox { border: none; padding: 0; height: 1; margin-right: 2;
                                        background: $surface; }
    TraderFormScreen #form-error { height: auto; }
    """

    def __init__(self, engine: Any, trader: TraderConfig | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.original = trader
        self.errors: dict[str, str] = {}
        self.touched: set[str] = set()  # fields the operator typed in: their errors show as they type

    def compose(self):  # type: ignore[no-untyped-def]
        trader = self.original
        defaults = trader or TraderConfig.model_construct(
            **{
                name: info.default
                for name, info in TraderConfig.model_fields.items()
                if name not in ("name", "wallet")
            }
        )
        title = f"Edit trader {trader.name}" if trader else "Add a trader"
        with Vertical(classes="dialog"):
            yield Label(title, classes="dialog-title")
            with Horizontal(classes="columns"):
                with Vertical(classes="column"):
                    yield from self._copy_fields(trader, defaults)
                with Vertical(classes="column exits"):
                    yield from self._exit_fields(defaults)
            with Horizontal(classes="checks"):
                for field, label in CHECK_FIELDS:
                    yield Checkbox(label, getattr(defaults, field), id=f"f-{field}")
            yield Label("", id="form-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel (esc)", id="cancel", compact=True)
                yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)

    def _copy_fields(self, trader: TraderConfig | None, defaults: Any):  # type: ignore[no-untyped-def]
        for field, label, placeholder in TEXT_FIELDS:
            value = "" if trader is None and field in ("name", "wallet") else str(getattr(defaults, field))
            with Horizontal(classes="field"):
                yield Label(label)
                yield Input(value, placeholder=placeholder, id=f"f-{field}", compact=True)
            yield Label("", id=f"e-{field}", classes="field-error")
            if field == "wallet":
                with Horizontal(classes="field"):
                    yield Label("Sizing")
                    yield Select(
                        [("fixed SOL per trade", "fixed"), ("percent of leader", "percent")],
                        value=defaults.sizing,
                        allow_blank=False,
                        id="f-sizing",
                        compact=True,
                    )
                yield Label("", id="e-sizing", classes="field-error")

    def _exit_fields(self, defaults: Any):  # type: ignore[no-untyped-def]
        yield Label("Exits (empty = [exits])", classes="hint", markup=False)
        for field, label, placeholder in EXIT_TEXT_FIELDS:
            own = getattr(defaults, field, None)
            value = "" if own is None else format_levels(own) if field == "take_profit_levels" else f"{own:g}"
            with Horizontal(classes="field"):
                yield Label(label)
                yield Input(value, placeholder=placeholder, id=f"f-{field}", compact=True)
            yield Label("", id=f"e-{field}", classes="field-error")
        follow = getattr(defaults, "follow_leader_sells", None)
        with Horizontal(classes="field"):
            yield Label("Leader sells")
            yield Select(
                FOLLOW_CHOICES,
                value="default" if follow is None else "yes" if follow else "no",
                allow_blank=False,
                id="f-follow_leader_sells",
                compact=True,
            )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#f-name", Input).focus()

    def values(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            field: self.query_one(f"#f-{field}", Input).value for field, _, _ in ALL_TEXT_FIELDS
        }
        result["sizing"] = self.query_one("#f-sizing", Select).value
        result["follow_leader_sells"] = str(self.query_one("#f-follow_leader_sells", Select).value)
        for field, _ in CHECK_FIELDS:
            result[field] = self.query_one(f"#f-{field}", Checkbox).value
        return result

    def on_input_changed(self, event: Input.Changed) -> None:
        """Inline validation: each keystroke re-checks the form; a field's error shows once it was typed in
        (and a rule across fields, such as minimum above maximum, once either was)."""
        field = (event.input.id or "").removeprefix("f-")
        if not field or not self.is_mounted:
            return
        self.touched.add(field)
        _, errors = build_trader(self.values(), self.original)
        shown = {key: message for key, message in errors.items() if key in self.touched}
        if "min_sol" in errors and "max_sol" in self.touched:
            shown["min_sol"] = errors["min_sol"]
        self.show_errors(shown, focus=False)

    def show_errors(self, errors: dict[str, str], focus: bool = True) -> None:
        self.errors = errors
        for field, _, _ in ALL_TEXT_FIELDS:
            label = self.query_one(f"#e-{field}", Label)
            label.update(errors.get(field, ""))
            label.set_class(field in errors, "-shown")
        sizing = self.query_one("#e-sizing", Label)
        sizing.update(errors.get("sizing", ""))
        sizing.set_class("sizing" in errors, "-shown")
        shown = {field for field, _, _ in ALL_TEXT_FIELDS} | {"sizing"}
        general = [message for field, message in errors.items() if field not in shown]
        self.query_one("#form-error", Label).update("; ".join(general))
        for field, _, _ in ALL_TEXT_FIELDS:
            if focus and field in errors:
                self.query_one(f"#f-{field}", Input).focus()
                break

    def action_save(self) -> None:
        trader, errors = build_trader(self.values(), self.original)
        if trader is None:
            self.show_errors(errors)
            return
        try:
            if self.original is None:
                self.engine.add_trader(trader)
            else:
                self.engine.edit_trader(self.original.name, trader)
        except (ValueError, KeyError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            field = "wallet" if "wallet" in str(message) else "name" if "named" in str(message) else "form"
            self.show_errors({field: str(message)})
            return
        self.dismiss(trader)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)
