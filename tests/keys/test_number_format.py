"""Amounts reach DynamoDB in fixed-point text: boto3 renders ``str(Decimal)``, which is ``2E-7``
below 1e-6; DynamoDB takes that, moto's server refuses it as an ``ADD`` operand."""
from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.dynamo.codec import serialize


@pytest.mark.parametrize("value, text", [
    (Decimal("2E-7"), "0.0000002"), (Decimal("0.000000100000"), "0.0000001"), (2e-7, "0.0000002"),
    (Decimal("1E+3"), "1000"), (Decimal("12.50"), "12.5"), (Decimal(0), "0"), (-3e-9, "-0.000000003"), (7, "7"),
])
def test_numbers_are_fixed_point(value, text):
    assert serialize({"n": value}) == {"n": {"N": text}}


def test_nested_numbers_too():
    assert serialize({"m": {"c": Decimal("5E-8")}, "l": [Decimal("1E-7")]}) == {
        "m": {"M": {"c": {"N": "0.00000005"}}}, "l": {"L": [{"N": "0.0000001"}]}}


def test_infinity_is_refused():
    with pytest.raises(TypeError):
        serialize({"n": Decimal("Infinity")})
