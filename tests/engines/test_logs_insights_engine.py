"""The Logs Insights reference interpreter: documented behaviour, and refusal of everything else."""

from __future__ import annotations

import pytest

from sigma_lambda_layer.views.cloudwatch import logs_insights_view
from tests.engines.logs_insights import UndocumentedBehaviour, UnsupportedSyntax, run_logs_insights

EVENTS = [
    logs_insights_view(
        {
            "eventTime": "2024-01-01T00:00:02Z",
            "eventName": "CreateUser",
            "sourceIPAddress": "10.0.0.1",
            "readOnly": False,
            "resources": [{"ARN": "arn:a"}, {"ARN": "arn:b"}],
        }
    ),
    logs_insights_view({"eventTime": "2024-01-01T00:00:01Z", "eventName": "createuser", "errorCode": "X"}),
]


def test_logs_insights_engine_view_flattens_like_discovery() -> None:
    view = EVENTS[0]
    assert view["resources.1.ARN"] == "arn:b"
    assert view["readOnly"] is False
    assert view["@timestamp"] == 1704067202000
    assert view["@message"].startswith('{"eventTime":"2024-01-01T00:00:02Z",')


def test_logs_insights_engine_regex_is_case_sensitive_unless_i() -> None:
    assert run_logs_insights("filter eventName =~ /CreateUser/", EVENTS) == [0]
    assert run_logs_insights("filter eventName =~ /(?i)^createuser$/", EVENTS) == [0, 1]


def test_logs_insights_engine_sort_and_limit() -> None:
    query = "fields @timestamp | filter ispresent(eventName) | sort @timestamp asc | limit 1"
    assert run_logs_insights(query, EVENTS) == [1]


def test_logs_insights_engine_ip_functions() -> None:
    query = 'filter isValidIp(sourceIPAddress) and isIpInSubnet(sourceIPAddress, "10.0.0.0/8")'
    assert run_logs_insights(query, EVENTS) == [0]


def test_logs_insights_engine_missing_field_under_not_is_undocumented() -> None:
    with pytest.raises(UndocumentedBehaviour):
        run_logs_insights('filter not (errorCode = "X")', EVENTS)
    assert run_logs_insights('filter not ((ispresent(errorCode) and errorCode = "X"))', EVENTS) == [0]


def test_logs_insights_engine_boolean_rendering_is_undocumented() -> None:
    with pytest.raises(UndocumentedBehaviour):
        run_logs_insights("filter readOnly =~ /false/", EVENTS)
    assert run_logs_insights("filter readOnly =~ /(?i)^false$/ or readOnly = 0", EVENTS) == [0]


@pytest.mark.parametrize(
    "query",
    [
        "filter a = 1 and b = 2 or c = 3",  # and/or precedence undocumented
        'filter not eventName = "x"',  # not before a bare comparison
        'filter eventName = "a\\"b"',  # string escapes undocumented
        "filter eventName =~ /(?=x)/",  # lookaround: not in Hyperscan
        "filter eventName =~ /a(?i)b/",  # inline flag mid-pattern
        "stats count(*) by eventName",  # command outside the subset
        "filter eventName = 1 # comment",
    ],
)
def test_logs_insights_engine_rejects_outside_subset(query: str) -> None:
    with pytest.raises(UnsupportedSyntax):
        run_logs_insights(query, EVENTS)


def test_logs_insights_engine_regex_literal_escapes() -> None:
    events = [logs_insights_view({"p": "a/b|c#d"})]
    assert run_logs_insights(r"filter p =~ /^a\/b\x7cc\x23d$/", events) == [0]


def test_logs_insights_engine_in_is_exact_set_membership() -> None:
    assert run_logs_insights('filter eventName in ["CreateUser", "DeleteUser"]', EVENTS) == [0]
    assert run_logs_insights('filter eventName in ["createuser"]', EVENTS) == [1]
    with pytest.raises(UnsupportedSyntax):
        run_logs_insights("filter eventName in [1]", EVENTS)


UNNEST = "fields jsonParse(@message) as record | unnest record.resources into element1"


def test_logs_insights_engine_unnest_one_record_per_element_and_dedup() -> None:
    query = f'{UNNEST} | filter element1.ARN = "arn:b" | sort @timestamp desc | dedup @ptr | limit 10'
    assert run_logs_insights(query, EVENTS) == [0]
    both = f"{UNNEST} | filter element1.ARN =~ /arn/ | sort @timestamp desc | dedup @ptr | limit 10"
    assert run_logs_insights(both, EVENTS) == [0]  # two records, one event
    with pytest.raises(UnsupportedSyntax, match="dedup"):  # one event twice: the query would repeat it
        run_logs_insights(f"{UNNEST} | filter element1.ARN =~ /arn/", EVENTS)
    with pytest.raises(UnsupportedSyntax, match="only limit"):
        run_logs_insights(f"{UNNEST} | dedup @ptr | sort @timestamp desc", EVENTS)


def test_logs_insights_engine_unnest_missing_field_is_undocumented() -> None:
    # The second event has no resources: no record, or one without element1. A filter false for the
    # element-less record either way agrees; one true for it (not ispresent) depends on the reading.
    query = f"{UNNEST} | filter ispresent(element1) | sort @timestamp desc | dedup @ptr | limit 10"
    assert run_logs_insights(query, EVENTS) == [0]
    with pytest.raises(UndocumentedBehaviour, match="unnest"):
        run_logs_insights(f"{UNNEST} | filter not ispresent(element1) | dedup @ptr", EVENTS)
    empty = [logs_insights_view({"resources": []})]
    assert run_logs_insights(f"{UNNEST} | filter not ispresent(element1) | dedup @ptr", empty) == []
