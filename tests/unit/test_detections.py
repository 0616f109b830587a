"""The detection ledger: a signature is done only when every swap in it has its record."""

from engine.detections import DetectionLedger


def test_a_signature_is_done_only_when_each_swap_is_recorded():
    ledger = DetectionLedger()
    assert not ledger.done("w", "a")  # never analysed
    ledger.opened("w", "a", 2)
    assert not ledger.done("w", "a")
    ledger.closed("w", "a")
    assert not ledger.done("w", "a")
    ledger.closed("w", "a")
    assert ledger.done("w", "a")
    ledger.closed("w", "a")  # an extra close stays done
    assert ledger.done("w", "a")
    ledger.opened("w", "b", 0)  # nothing to record
    assert ledger.done("w", "b") and not ledger.done("other", "b")
    ledger.forget("w", ["a", "b"])
    assert not ledger.done("w", "a")
