"""The filters erp.platform.input_problems and quantity_bytes: thin wrappers with AnsibleFilterError instead of tracebacks."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.erp.platform.plugins.filter.input_problems import FilterModule

FILTERS = FilterModule().filters()


def test_filter_is_registered_and_returns_the_problems():
    assert set(FILTERS) == {"input_problems", "quantity_bytes"}
    assert FILTERS["input_problems"]([{"var": "x", "value": "5", "rule": "port"}]) == []
    assert FILTERS["input_problems"]([{"var": "x", "value": 0, "rule": "port"}]) == ["x: got 0; allowed: a TCP port from 1 to 65535"]


@pytest.mark.parametrize("bad", [{"var": "x"}, [{"var": "x", "value": 1, "rule": "unknown"}]])
def test_bad_checks_raise_a_filter_error(bad):
    with pytest.raises(AnsibleFilterError, match="input_problems"):
        FILTERS["input_problems"](bad)


def test_quantity_bytes_compares_two_spellings_of_one_quantity_and_refuses_a_non_quantity():
    assert FILTERS["quantity_bytes"]("1Gi") == FILTERS["quantity_bytes"]("1024Mi") == 2**30
    assert FILTERS["quantity_bytes"]("0.25Gi") == FILTERS["quantity_bytes"]("256Mi")
    assert FILTERS["quantity_bytes"](2) == 2.0
    with pytest.raises(AnsibleFilterError, match="quantity_bytes: got 'ten gigs'"):
        FILTERS["quantity_bytes"]("ten gigs")
