"""Python values <-> DynamoDB attribute values, for every store on the gateway's table.

Writing: ``serialize`` (an item; ``None`` attributes are left out) and ``serialize_values`` (expression
values; ``None`` is ``NULL``). Floats become decimals, numbers go out in fixed-point text.

Reading, in one of two shapes, as the caller needs:

- ``deserialize``: DynamoDB's own types (``Decimal``, ``set``, ``Binary``), for typed decoding field by
  field (the keys store), with ``json_value`` for free-form fields that must be JSON (strict);
- ``plain_item``: numbers as ``int``/``float``, sets kept as sets, anything else as it is (the batch
  store's items, read as plain dicts).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer


class FixedPointSerializer(TypeSerializer):
    """Numbers in fixed-point text. boto3 sends ``str(Decimal)``, which is ``2E-7`` below 1e-6;
    DynamoDB accepts that, moto's server refuses it as an ``ADD`` operand (it parses a number
    without a ``.`` with ``int()``, ``moto/dynamodb/models/dynamo_type.py``). moto also stores its
    own sums below 1e-6 in that form, which no client can prevent."""

    def _serialize_n(self, value: Any) -> str:
        number = DYNAMODB_CONTEXT.create_decimal(value)
        if not number.is_finite():
            raise TypeError("Infinity and NaN not supported")
        text = format(number, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text


_SER = FixedPointSerializer()
_DESER = TypeDeserializer()


def fixed_point(value: Decimal) -> Decimal:
    """Plain notation (``0.02``, never ``2E-2`` or ``0E-10``): some emulators cannot add exponents."""
    if value == 0:
        return Decimal(0)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Decimal(text)


def to_dynamo(value: Any) -> Any:
    """Python -> what the serializer accepts (TypeSerializer refuses floats; DynamoDB numbers are decimal)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return fixed_point(Decimal(repr(value)))
    if isinstance(value, Decimal):
        return fixed_point(value)
    if isinstance(value, dict):
        return {str(k): to_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_dynamo(v) for v in value]
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """An item (or key) as attribute values; attributes whose value is ``None`` are left out."""
    return {k: _SER.serialize(to_dynamo(v)) for k, v in item.items() if v is not None}


def serialize_values(values: dict[str, Any]) -> dict[str, Any]:
    """``ExpressionAttributeValues``: every placeholder, ``None`` as ``NULL``."""
    return {k: _SER.serialize(to_dynamo(v)) for k, v in values.items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    """An item with DynamoDB's types as they are: ``Decimal``, ``set``, ``Binary``."""
    return {k: _DESER.deserialize(v) for k, v in item.items()}


def json_value(value: Any) -> Any:
    """A deserialized value as JSON-friendly Python (Decimal -> int/float, sets -> lists), for
    free-form fields like metadata; TypeError for what JSON cannot hold (binary values)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [json_value(v) for v in value]
    if value is None or isinstance(value, (str, bool)):
        return value
    raise TypeError(f"{type(value).__name__} is not JSON")


def plain_value(value: Any) -> Any:
    """A deserialized value with numbers as int/float, all the way down; sets stay sets and any
    other type passes as it is (never an error)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    if isinstance(value, set):
        return {plain_value(v) for v in value}
    return value


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item read as a plain dict (``plain_value`` of every attribute)."""
    return {k: plain_value(_DESER.deserialize(v)) for k, v in item.items()}
