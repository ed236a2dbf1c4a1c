"""The SPL reference interpreter against verdicts reasoned from Splunk's documentation.

Each test names the page it relies on with the tags of tests/engines/spl.py ([BOOL], [NOT], ...).
"""

from __future__ import annotations

import json

import pytest

from tests.engines.spl import SplError, command_names, pcre, run_spl


def ev(fields: dict[str, str | list[str]], raw: str | None = None) -> dict[str, list[str]]:
    """A Splunk-view event: every value a list, _raw the JSON text unless given."""
    event = {k: [v] if isinstance(v, str) else list(v) for k, v in fields.items()}
    event["_raw"] = [raw if raw is not None else json.dumps(fields)]
    return event


LAMBDA = [
    ev({"eventSource": "lambda.amazonaws.com", "eventName": "UpdateFunctionConfiguration20150331v2"}),
    ev({"eventSource": "lambda.amazonaws.com", "eventName": "CreateFunction20150331"}),
    ev({"eventSource": "s3.amazonaws.com", "eventName": "UpdateFunctionConfiguration"}),
    ev({"eventName": "updatefunctionconfiguration"}),
]


def test_spl_founding_rule_query() -> None:
    query = (
        'sourcetype=aws:cloudtrail eventSource="lambda.amazonaws.com" '
        'eventName="UpdateFunctionConfiguration*"'
    )
    events = [{**e, "sourcetype": ["aws:cloudtrail"]} for e in LAMBDA] + [LAMBDA[0]]
    assert run_spl(query, events) == {0}


def test_spl_precedence_or_binds_tighter_than_and() -> None:
    # [BOOL] "A=1 AND B=2 OR C=3 ... is processed as A=1 AND ( B=2 OR C=3 )"
    events = [ev({"A": "1", "B": "2"}), ev({"A": "1", "C": "3"}), ev({"C": "3"}), ev({"A": "1"})]
    assert run_spl("A=1 B=2 OR C=3", events) == {0, 1}
    assert run_spl("A=1 AND B=2 OR C=3", events) == {0, 1}
    assert run_spl("B=2 OR C=3 A=1", events) == {0, 1}
    assert run_spl("(A=1 B=2) OR C=3", events) == {0, 1, 2}


def test_spl_precedence_not_binds_to_next_term() -> None:
    # [BOOL] "error NOT 403 OR 404": error AND ((NOT 403) OR 404)
    raws = ["error 404", "error 403", "error 500", "403 404", "error 403 404"]
    events = [ev({}, raw) for raw in raws]
    assert run_spl("error NOT 403 OR 404", events) == {0, 2, 4}
    assert run_spl("error NOT (403 OR 404)", events) == {2}


def test_spl_operators_must_be_uppercase() -> None:
    # [BOOL] "The operators must be capitalized": a lowercase 'or' is a keyword term, ANDed in
    events = [ev({"A": "1"}, "A=1 or"), ev({"C": "3"}, "C=3")]
    assert run_spl("A=1 or C=3", events) == set()
    assert run_spl("A=1 OR C=3", events) == {0, 1}


def test_spl_values_case_insensitive_field_names_case_sensitive() -> None:
    # [CASE] "By default, searches are case-insensitive"; field names are case-sensitive
    assert run_spl("eventName=updatefunctionconfiguration*", LAMBDA) == {0, 2, 3}
    assert run_spl("eventname=updatefunctionconfiguration*", LAMBDA) == set()


def test_spl_case_directive_is_case_sensitive() -> None:
    # [CASE] CASE() for case-sensitive matches of terms and field values, with wildcards
    assert run_spl("eventName=CASE(UpdateFunction*)", LAMBDA) == {0, 2}
    assert run_spl('eventName=CASE("updatefunctionconfiguration")', LAMBDA) == {3}
    assert run_spl("CASE(CreateFunction20150331)", LAMBDA) == {1}
    assert run_spl("CASE(createfunction20150331)", LAMBDA) == set()


def test_spl_wildcards_match_the_whole_value() -> None:
    # [WILD] '*' matches any number of characters; without one the whole value must match
    assert run_spl("eventName=Create*", LAMBDA) == {1}
    assert run_spl("eventName=*20150331", LAMBDA) == {1}
    assert run_spl("eventName=*Function*", LAMBDA) == {0, 1, 2, 3}
    assert run_spl("eventName=CreateFunction", LAMBDA) == set()
    assert run_spl("eventSource=*", LAMBDA) == {0, 1, 2}


def test_spl_quoted_values_and_escapes() -> None:
    # [SRCH] quotes and escaping: \" and \\ are expanded inside quotes; other sequences stay as they are
    events = [ev({"f": 'say "hi"'}), ev({"f": "C:\\Windows"}), ev({"f": "a\\d"}), ev({"f": "a b"})]
    assert run_spl(r'f="say \"hi\""', events) == {0}
    assert run_spl(r'f="C:\\Windows"', events) == {1}
    assert run_spl(r'f="a\d"', events) == {2}
    assert run_spl(r'f="a\\d"', events) == {2}
    assert run_spl('f="a b"', events) == {3}
    assert run_spl(r'f="C:\Windows"', events) == {1}  # \W is not an escape sequence: kept


def test_spl_in_operator() -> None:
    # [SRCH] field IN (value-list) is an OR of field=value, wildcards allowed
    events = [ev({"f": "a"}), ev({"f": "b c"}), ev({"f": "dog"}), ev({"f": "e"}), ev({"g": "a"})]
    assert run_spl('f IN (a, "b c", d*)', events) == {0, 1, 2}
    assert run_spl('NOT f IN (a, "b c", d*)', events) == {3, 4}
    assert run_spl("f in (a)", events) == set()  # lowercase 'in' is no operator (and a ',' would raise)


def test_spl_missing_field_matches_only_under_not() -> None:
    # [NOT] NOT field=value returns "events that do not have a value in the field"
    events = [ev({"f": "x"}), ev({"f": "y"}), ev({"g": "x"})]
    assert run_spl("f=x", events) == {0}
    assert run_spl("NOT f=x", events) == {1, 2}


def test_spl_not_equal_requires_the_field() -> None:
    # [NOT] with !=, "Events that do not have a value in the field are not included"
    events = [ev({"f": "x"}), ev({"f": "y"}), ev({"g": "x"})]
    assert run_spl("f!=x", events) == {1}
    assert run_spl("f!=nothing", events) == {0, 1}


def test_spl_field_exists() -> None:
    events = [ev({"f": "x"}), ev({"f": ""}), ev({"g": "x"})]
    assert run_spl("f=*", events) == {0, 1}
    assert run_spl("NOT f=*", events) == {2}


def test_spl_multivalue_field_matches_if_any_value_matches() -> None:
    events = [ev({"resources{}.ARN": ["arn:a", "arn:b"]}), ev({"resources{}.ARN": "arn:c"})]
    assert run_spl('resources{}.ARN="arn:b"', events) == {0}
    assert run_spl('NOT resources{}.ARN="arn:b"', events) == {1}
    assert run_spl('resources{}.ARN IN ("arn:c", "arn:a")', events) == {0, 1}


def test_spl_not_equal_on_multivalue_is_a_guess() -> None:
    # [NOT] is silent on multivalue fields: some value differs, or no value matches?
    events = [ev({"f": ["x", "y"]}), ev({"f": ["y", "z"]})]
    with pytest.raises(SplError, match="search_ne_mv"):
        run_spl("f!=x", events)
    assert run_spl("f!=x", events, strict=False) == {0, 1}
    assert run_spl("f!=x", events[1:]) == {0}  # both readings agree


def test_spl_cidr_values() -> None:
    # [SRCH] "supports IPv4 and IPv6 addresses and subnets that use CIDR notation"
    events = [
        ev({"sourceIPAddress": "10.1.2.3"}),
        ev({"sourceIPAddress": "11.0.0.1"}),
        ev({"sourceIPAddress": "lambda.amazonaws.com"}),
        ev({"sourceIPAddress": "2001:db8::1"}),
    ]
    assert run_spl("sourceIPAddress=10.0.0.0/8", events) == {0}
    assert run_spl('sourceIPAddress="10.0.0.0/8"', events) == {0}
    assert run_spl("NOT sourceIPAddress=10.0.0.0/8", events) == {1, 2, 3}
    assert run_spl('sourceIPAddress="2001:db8::/32"', events) == {3}


def test_spl_numeric_comparisons() -> None:
    events = [ev({"n": "5"}), ev({"n": "10"}), ev({"n": "abc"}), ev({"m": "1"})]
    assert run_spl("n>5", events) == {1}
    assert run_spl("n>=5", events) == {0, 1}
    assert run_spl("n<10", events) == {0}
    assert run_spl("n<=10.0", events) == {0, 1}
    with pytest.raises(SplError, match="needs a number"):
        run_spl("n>abc", events)


def test_spl_keywords_match_raw_at_segment_boundaries() -> None:
    # [SRCH] bare terms search _raw; [SEG] terms are bounded by major and minor breakers
    events = [ev({"eventSource": "lambda.amazonaws.com"}), ev({"eventSource": "s3.amazon.com"})]
    assert run_spl("amazonaws", events) == {0}
    assert run_spl("AMAZONAWS", events) == {0}
    assert run_spl("mazonaws", events) == set()
    assert run_spl("*mazon*", events) == {0, 1}
    assert run_spl('"lambda.amazonaws.com"', events) == {0}
    assert run_spl("lambda amazon", events) == set()
    assert run_spl("eventSource amazon", events) == {1}


def test_spl_term_directive_bounds_at_major_breakers() -> None:
    # [CASE] TERM() matches a whole term between major breakers, ignoring minor breakers
    events = [ev({"eventSource": "lambda.amazonaws.com"}), ev({}, "x 127.0.0.1 y")]
    assert run_spl("TERM(lambda.amazonaws.com)", events) == {0}
    assert run_spl("TERM(amazonaws)", events) == set()
    assert run_spl("TERM(127.0.0.1)", events) == {1}


def test_spl_regex_command() -> None:
    # [REGX] unanchored PCRE; field= keeps matches, field!= keeps non-matches; default _raw
    assert run_spl('eventSource=* | regex eventName="Function"', LAMBDA) == {0, 1, 2}
    assert run_spl('eventSource=* | regex eventName="^Update"', LAMBDA) == {0, 2}
    assert run_spl('eventName=* | regex eventName="^update"', LAMBDA) == {3}  # case-sensitive
    assert run_spl('eventSource=* | regex eventName!="^Update"', LAMBDA) == {1}
    assert run_spl('eventName=* | regex "s3\\\\.amazonaws"', LAMBDA) == {2}
    assert run_spl('eventName=* | regex eventName="^(Create|Delete)"', LAMBDA) == {1}  # quoted pipe


def test_spl_regex_requires_quotes() -> None:
    # [REGX] "Quotation marks are required"; NOT is not valid in regex
    with pytest.raises(SplError, match="regex arguments"):
        run_spl("eventName=* | regex eventName=^Update", LAMBDA)
    with pytest.raises(SplError, match="regex arguments"):
        run_spl('eventName=* | regex NOT eventName="x"', LAMBDA)


def test_spl_regex_not_equal_on_missing_field_is_a_guess() -> None:
    # [REGX] says field!= keeps results that do not match, but not what happens without the field
    events = [ev({"f": "abc"}), ev({"g": "abc"})]
    with pytest.raises(SplError, match="regex_ne_missing"):
        run_spl('g=* OR f=* | regex f!="x"', events)
    assert run_spl('g=* OR f=* | regex f!="x"', events, strict=False) == {0, 1}
    assert run_spl('g=* OR f=* | regex f="b"', events) == {0}


def test_spl_regex_on_multivalue_is_a_guess() -> None:
    events = [ev({"f": ["ab", "cd"]})]
    assert run_spl('f=* | regex f="a"', events) == {0}  # any and first agree
    with pytest.raises(SplError, match="regex_mv"):
        run_spl('f=* | regex f="c"', events)


def test_spl_where_functions() -> None:
    # [EVAL] match, like, lower, upper, isnull, isnotnull; [WHER] comparisons
    events = [ev({"eventName": "UpdateFunctionConfiguration", "n": "7"}), ev({"eventName": "CreateFunction"})]
    q = "eventName=* | where "
    assert run_spl(q + 'match(eventName, "^Upd")', events) == {0}
    assert run_spl(q + 'match(eventName, "(?i)^upd")', events) == {0}
    assert run_spl(q + 'like(eventName, "Create%")', events) == {1}
    assert run_spl(q + 'like(eventName, "CreateFunctio_")', events) == {1}
    assert run_spl(q + 'like(eventName, "create%")', events) == set()
    assert run_spl(q + 'lower(eventName)="createfunction"', events) == {1}
    assert run_spl(q + 'upper(eventName)=="CREATEFUNCTION"', events) == {1}
    assert run_spl(q + 'eventName!="CreateFunction"', events) == {0}
    assert run_spl(q + "isnull(n)", events) == {1}
    assert run_spl(q + "isnotnull(n) AND n>5 AND n<8", events) == {0}


def test_spl_where_mvfind_tests_every_value() -> None:
    # [MV] mvfind(): index of the first value that matches the regex, NULL if none does
    events = [ev({"r{}": ["a", "b"]}), ev({"r{}": "c"}), ev({"g": "b"})]
    assert run_spl("* | where isnotnull(mvfind('r{}', \"^b$\"))", events) == {0}
    assert run_spl("* | where isnull(mvfind('r{}', \"^b$\"))", events) == {1, 2}
    assert run_spl("* | where mvfind('r{}', \"(?i)^[AC]\")=0", events) == {0, 1}
    with pytest.raises(SplError, match="takes a field"):
        run_spl('* | where isnull(mvfind(lower(r), "b"))', events)


def test_spl_where_is_case_sensitive() -> None:
    # [WHER] "The <eval-expression> is case-sensitive"
    assert run_spl('eventName=* | where eventName="updatefunctionconfiguration"', LAMBDA) == {3}


def test_spl_where_precedence_and_before_or() -> None:
    # [BOOL] eval and where: NOT, then AND, then OR
    events = [ev({"a": "1"}), ev({"b": "2", "c": "3"}), ev({"b": "2", "a": "0"})]
    q = '* | where isnotnull(a) AND a="1" OR isnotnull(b) AND b="2" AND isnotnull(c) AND c="3"'
    assert run_spl(q, events) == {0, 1}


def test_spl_where_quoted_field_names() -> None:
    # [WHER] field names with non-alphanumeric characters must be in single quotes
    events = [ev({"userIdentity.arn": "arn:aws:iam::1:user/a"})]
    assert run_spl("* | where 'userIdentity.arn'=\"arn:aws:iam::1:user/a\"", events) == {0}
    with pytest.raises(SplError, match="outside the subset"):
        run_spl('* | where userIdentity.arn="x"', events)


def test_spl_where_null_under_not_is_a_guess() -> None:
    # A comparison with a missing field: does NOT of it keep the event? Undocumented.
    events = [ev({"f": "abc"}), ev({"g": "abc"})]
    with pytest.raises(SplError, match="where_null"):
        run_spl('* | where NOT match(f, "x")', events)
    assert run_spl('* | where NOT match(f, "x")', events, strict=False) == {0}
    assert run_spl('* | where isnull(f) OR NOT match(f, "x")', events) == {0, 1}
    assert run_spl('* | where match(f, "b")', events) == {0}  # both readings drop event 1


def test_spl_where_multivalue_is_a_guess() -> None:
    events = [ev({"r{}": ["a", "b"]})]
    assert run_spl("* | where 'r{}'=\"a\"", events) == {0}  # any and first agree
    with pytest.raises(SplError, match="where_mv"):
        run_spl("* | where 'r{}'=\"b\"", events)
    assert run_spl("* | where 'r{}'=\"b\"", events, strict=False) == {0}


def test_spl_search_as_a_later_command() -> None:
    events = [ev({"a": "1", "b": "2"}), ev({"a": "1"})]
    assert run_spl("a=1 | search b=2", events) == {0}
    assert run_spl("search a=1 | search NOT b=2", events) == {1}


@pytest.mark.parametrize(
    "command",
    [
        "delete",
        "outputlookup x.csv",
        "sendemail to=a@b",
        "script x",
        "collect index=x",
        "table a",
        "stats count",
        'rex field=a "(?<b>.)"',
        "WHERE a=1",
        "EVAL x=if(a=1, 1, 0)",
        "spath output=a path=a",
    ],
)
def test_spl_rejects_other_commands(command: str) -> None:
    with pytest.raises(SplError, match="command not allowed"):
        run_spl(f"a=1 | {command}", LAMBDA)


@pytest.mark.parametrize(
    "command",
    [
        "eval x=1",
        'eval x=lower("A")',
        "eval x=if(a=1, b, 0)",
        "eval x=if(a=1, 1)",
        "eval x=if(a, 1, 0)",
        "eval x=if(a=1, 1, 0) y=1",
        "eval if=if(a=1, 1, 0)",
        "eval x=if(sendemail(a), 1, 0)",
    ],
)
def test_spl_rejects_eval_outside_the_subset(command: str) -> None:
    # Only eval <f>=if(<condition>, <literal>, <literal>) is modelled
    with pytest.raises(SplError, match=r"eval|where"):
        run_spl(f"a=1 | {command}", LAMBDA)


def test_spl_eval_if_flags() -> None:
    # [EVCM] if(): the true value when the predicate is TRUE, otherwise the false value -- so a predicate on
    # a missing field (NULL) gives the false value, and NOT over the flag stays two-valued
    events = [ev({"a": "X", "b": "x"}), ev({"a": "X", "b": "y"}), ev({"a": "X"})]
    q = '* | eval m1=if(lower(a)=lower(b), 1, 0), m2=if(isnull(b), "yes", "no") | search '
    assert run_spl(q + "m1=1", events) == {0}
    assert run_spl(q + "NOT m1=1", events) == {1, 2}
    assert run_spl(q + "m2=yes", events) == {2}
    # an existing field is overwritten [EVCM]
    assert run_spl("* | eval a=if(isnotnull(b), 1, 0) | search a=1", events) == {0, 1}


def test_spl_pcre_recursion_runs_on_the_regex_module() -> None:
    # [PCRE] (?(DEFINE)...) and (?&name) are PCRE; Python's re lacks them, the regex module has them
    balanced = r"^(?&obj)$(?(DEFINE)(?<obj>\{(?:[^{}]++|(?&obj))*+\}))"
    events = [ev({"f": "{a{b}c}"}), ev({"f": "{a{b}"}), ev({"f": "{}"})]
    assert run_spl(f"* | where match(f, {json.dumps(balanced)})", events) == {0, 2}
    assert run_spl(f"* | where isnotnull(mvfind(f, {json.dumps(balanced)}))", events) == {0, 2}
    assert run_spl(f"* | regex f={json.dumps(balanced)}", events) == {0, 2}
    assert pcre("a").search("xa") and pcre(balanced).search("{}")
    with pytest.raises(SplError, match="invalid regex"):
        pcre("(?&missing)")


def test_spl_where_and_or_stop_at_a_decisive_operand() -> None:
    # Kleene logic: false AND null is false, true OR null is true, whatever the order; null otherwise
    events = [ev({"a": "1"}), ev({"a": "2"}), ev({})]
    assert run_spl("* | where a=1 OR b=1", events) == {0}
    assert run_spl("* | where b=1 AND a=1", events) == set()
    assert run_spl("* | eval m=if(b=1 OR a=1, 1, 0) | search m=1", events) == {0}


def test_spl_backticks_are_refused_even_quoted() -> None:
    # [SRCH] macros are backticks; whether one inside a quoted value expands is not documented
    events = [ev({"f": "a`b"})]
    with pytest.raises(SplError, match="backtick"):
        run_spl('f="a`b"', events)
    assert run_spl('f="a`b"', events, strict=False) == {0}


def test_spl_command_names() -> None:
    assert command_names('a=1 | eval m=if(a=1, 1, 0) | search "x | y" | where a=1') == [
        "search",
        "eval",
        "search",
        "where",
    ]
    assert command_names(r'a="x\" | delete"') == ["search"]


def test_spl_rejects_a_value_breaking_out_of_its_literal() -> None:
    # What a query built with a badly escaped value "x\" | delete | search \"" would look like
    with pytest.raises(SplError, match="command not allowed: delete"):
        run_spl('eventName="x" | delete | search "" ', LAMBDA)
    assert run_spl(r'eventName="x\" | delete | search \""', LAMBDA) == set()  # escaped: one value
    with pytest.raises(SplError, match="unterminated"):
        run_spl('eventName="x\\"', LAMBDA)


def test_spl_rejects_macros_subsearches_and_generating_commands() -> None:
    for query in ("`cloudtrail` x=1", "x=1 [search a=1]", "| tstats count", "", "earliest=-1d a=1"):
        with pytest.raises(SplError):
            run_spl(query, LAMBDA)


def test_spl_rejects_malformed_queries() -> None:
    for query in (
        "(a=1",
        "a=1)",
        "a==1",
        "a=1 OR",
        "NOT",
        'a="x"b',
        "a IN (x",
        "a=x, b=y",
        "* | where nosuch(a)",
        "* | where a=1 XOR b=2",
        "* | where a=1 b=2",
        "* | where a",
        '* | where match(a, "(")',
        "* | where match(a, b)",
        "* | where a+1=2",
    ):
        with pytest.raises(SplError):
            run_spl(query, LAMBDA)


def test_spl_wildcard_inside_punctuated_value_is_refused() -> None:
    # [WILD] "Wildcard characters in the middle of a word or string might cause inconsistent results ...
    # especially true if the string contains punctuation"
    events = [ev({"arn": "arn:aws:iam::123:root"})]
    with pytest.raises(SplError, match="inconsistent"):
        run_spl("arn=arn:aws:iam::*:root", events)
    assert run_spl("arn=arn:aws:iam::*:root", events, strict=False) == {0}
    assert run_spl('arn="*:root"', events) == {0}  # leading and trailing wildcards are fine


def test_spl_backslash_cannot_escape_a_wildcard() -> None:
    # [BACK] "The backslash symbol can't be used to escape the asterisk in search strings"
    with pytest.raises(SplError, match="cannot escape"):
        run_spl(r'f="a\*"', [ev({"f": "a*"})])
    assert run_spl(r'f="a\*"', [ev({"f": "a*"}), ev({"f": "a\\bc"})], strict=False) == {1}


def test_spl_events_must_be_lists() -> None:
    with pytest.raises(TypeError):
        run_spl("a=1", [{"a": "1"}])  # type: ignore[dict-item]
