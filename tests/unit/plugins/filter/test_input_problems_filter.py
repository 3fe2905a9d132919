"""The filter erp.platform.input_problems: a thin wrapper with AnsibleFilterError instead of tracebacks."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.erp.platform.plugins.filter.input_problems import FilterModule

FILTERS = FilterModule().filters()


def test_filter_is_registered_and_returns_the_problems():
    assert set(FILTERS) == {"input_problems"}
    assert FILTERS["input_problems"]([{"var": "x", "value": "5", "rule": "port"}]) == []
    assert FILTERS["input_problems"]([{"var": "x", "value": 0, "rule": "port"}]) == ["x: got 0; allowed: a TCP port from 1 to 65535"]


@pytest.mark.parametrize("bad", [{"var": "x"}, [{"var": "x", "value": 1, "rule": "unknown"}]])
def test_bad_checks_raise_a_filter_error(bad):
    with pytest.raises(AnsibleFilterError, match="input_problems"):
        FILTERS["input_problems"](bad)
