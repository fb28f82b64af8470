"""Callers' numbers become E.164 at the edge."""

from __future__ import annotations

import pytest

from callflow.numbers import CallerFlag, NumberKind, mask, parse_caller


@pytest.mark.parametrize(
    "raw,e164,display,kind",
    [
        ("+33612345678", "+33612345678", "06 12 34 56 78", NumberKind.MOBILE),
        ("0612345678", "+33612345678", "06 12 34 56 78", NumberKind.MOBILE),
        ("01 45 67 89 10", "+33145678910", "01 45 67 89 10", NumberKind.FIXED),
        ("+32470123456", "+32470123456", "+32 470 12 34 56", NumberKind.MOBILE),
    ],
)
def test_valid_numbers(raw, e164, display, kind):
    number = parse_caller(raw)
    assert (number.e164, number.display, number.kind, number.flag) == (e164, display, kind, None)
    assert number.callable


@pytest.mark.parametrize("raw", ["anonymous", "Restricted", "+266696687", "", None, "unknown"])
def test_withheld(raw):
    number = parse_caller(raw)
    assert number.e164 is None and number.flag is CallerFlag.WITHHELD and not number.callable


@pytest.mark.parametrize("raw", ["12", "+3361234", "abc", "+33 6 12 34 56 78 90 12", "0000000000"])
def test_invalid(raw):
    number = parse_caller(raw)
    assert number.e164 is None and number.flag is CallerFlag.INVALID


def test_masked_for_logs():
    assert mask("+33612345678") == "+33*******78"
    assert mask(None) == "-"
