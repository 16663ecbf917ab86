"""Cost arithmetic of the benchmark: DynamoDB units as billed, and dollars per million requests."""
import pytest

import aws_prices
from cost_model import RequestProfile, item_size, lambda_compute, per_million, read_units, reload_checks_per_request, write_units


@pytest.mark.parametrize(("size", "units"), [(0, 1), (1, 1), (1024, 1), (1025, 2), (3 * 1024, 3), (3 * 1024 + 1, 4)])
def test_write_units_round_up_per_kb_with_a_minimum_of_one(size, units):
    assert write_units(size) == units


@pytest.mark.parametrize(("size", "units"), [(0, 2), (1024, 2), (1025, 4), (3 * 1024, 6)])
def test_transactional_writes_cost_twice(size, units):
    assert write_units(size, transactional=True) == units


@pytest.mark.parametrize(("size", "consistent", "units"),
                         [(0, True, 1.0), (4096, True, 1.0), (4097, True, 2.0), (3500, False, 0.5), (8192, False, 1.0),
                          (8193, False, 1.5)])
def test_read_units_round_up_per_4kb(size, consistent, units):
    assert read_units(size, consistent=consistent) == units


def test_transactional_reads_cost_twice_a_consistent_read():
    assert read_units(5000, transactional=True) == 4.0


def test_item_size_counts_names_and_values_as_dynamodb_does():
    assert item_size({"pk": {"S": "KEY#ab"}}) == 2 + 6
    assert item_size({"n": {"N": "12345"}}) == 1 + 4  # 5 significant digits: ceil(5 / 2) + 1
    assert item_size({"n": {"N": "100"}}) == 1 + 2  # trailing zeros are not significant
    assert item_size({"b": {"B": b"\x00" * 10}, "t": {"BOOL": True}, "z": {"NULL": True}}) == 11 + 2 + 2
    assert item_size({"m": {"M": {"ab": {"S": "xyz"}}}}) == 1 + 3 + 1 + 2 + 3
    assert item_size({"l": {"L": [{"S": "a"}, {"S": "bc"}]}}) == 1 + 3 + (1 + 1) + (1 + 2)
    assert item_size({"s": {"S": "é"}}) == 1 + 2  # UTF-8 bytes, not characters
    assert item_size(None) == 0


def test_an_item_just_over_1_kb_costs_two_write_units():
    item = {"pk": {"S": "x" * 1023}}  # 2 + 1023 bytes
    assert write_units(item_size(item)) == 2
    assert write_units(item_size(item), transactional=True) == 4


def test_lambda_duration_is_billed_per_started_millisecond():
    assert lambda_compute(10.2, 1024) == lambda_compute(11, 1024)
    assert lambda_compute(1000, 1024) == pytest.approx(aws_prices.LAMBDA_ARM64_GB_SECOND)
    assert lambda_compute(1000, 512) == pytest.approx(aws_prices.LAMBDA_ARM64_GB_SECOND / 2)


def test_per_million_adds_every_service():
    profile = RequestProfile(label="x", billed_ms=1000, write_units=5, read_units=1, front_door="http_api",
                             s3_calls={"HeadObject": 0.5, "ListObjectsV2": 0.5}, response_bytes=600 * 1024)
    cost = per_million(profile, 1024)
    assert cost["lambda_duration"] == pytest.approx(aws_prices.LAMBDA_ARM64_GB_SECOND * 1e6)
    assert cost["lambda_requests"] == pytest.approx(0.20)
    assert cost["front_door"] == pytest.approx(2.00)  # 600 KB is two 512 KB increments of the HTTP API
    assert cost["dynamodb"] == pytest.approx(5 * 0.625 + 0.125)
    assert cost["s3"] == pytest.approx(0.5 * 0.4 + 0.5 * 5.0)
    assert cost["total"] == pytest.approx(sum(v for k, v in cost.items() if k != "total"))


def test_a_function_url_has_no_charge_of_its_own():
    profile = RequestProfile(label="x", billed_ms=5, write_units=0, read_units=0, front_door="function_url")
    assert per_million(profile, 1024)["front_door"] == 0.0


def test_reload_checks_happen_once_per_interval_and_at_most_once_per_request():
    assert reload_checks_per_request(60, 1.0) == pytest.approx(1 / 60)
    assert reload_checks_per_request(60, 0.001) == 1.0
