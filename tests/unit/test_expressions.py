"""Conductor ${...} expressions: given documents per root, when resolving, then Conductor's value."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.domain.expressions import (
    MISSING,
    has_secrets,
    resolve,
    resolve_secrets,
    to_text,
)

DOCS: dict[str, Any] = {
    "workflow": {
        "input": {
            "x": 1,
            "name": "Ann",
            "key": "x",
            "obj": {"a": 1, "b": [1, 2]},
            "flag": True,
            "none": None,
            "ratio": 1.5,
            "big": 1e10,
            "odd key": "spaced",
        },
        "variables": {"count": 3},
        "workflowId": "wf-1",
    },
    "t1": {
        "output": {
            "items": [{"id": 7, "price": 5}, {"id": 8, "price": 15}],
            "a b": 3,
            "nested": {"deep": {"id": 9}},
        },
        "status": "COMPLETED",
    },
    "my-task": {"output": {"ok": True}},
}


def lookup(root: str) -> Any:
    return DOCS.get(root, MISSING)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${workflow.input.x}", 1),
        ("${workflow.input.obj}", {"a": 1, "b": [1, 2]}),
        ("${workflow.input.flag}", True),
        ("${workflow.input.none}", None),
        ("${workflow.variables.count}", 3),
        ("${workflow.workflowId}", "wf-1"),
        ("${t1.output.items[0].id}", 7),
        ("${t1.output.items[-1].id}", 8),
        ("${t1.output['a b']}", 3),
        ('${t1.output["a b"]}', 3),
        ("${workflow.input['odd key']}", "spaced"),
        ("${t1.status}", "COMPLETED"),
        ("${my-task.output.ok}", True),
        ("${$.workflow.input.x}", 1),
    ],
)
def test_single_expression_yields_the_typed_value(template: str, expected: Any) -> None:
    assert resolve(template, lookup) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${t1.output.items[*].id}", [7, 8]),
        ("${t1.output.items[?(@.price > 10)].id}", [8]),
        ("${t1.output..id}", [7, 8, 9]),
        ("${t1.output.items[0:1]}", [{"id": 7, "price": 5}]),
        ("${nope.output.items[*].id}", []),
    ],
)
def test_indefinite_paths_yield_the_list_of_matches(template: str, expected: Any) -> None:
    assert resolve(template, lookup) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${t1.output.items.length()}", 2),
        ("${t1.output.items[*].price.sum()}", 20.0),
        ("${t1.output.items[*].price.max()}", 15.0),
        ("${workflow.input.obj.keys()}", ["a", "b"]),
    ],
)
def test_jayway_path_functions_apply_to_the_value(template: str, expected: Any) -> None:
    assert resolve(template, lookup) == expected


@pytest.mark.parametrize(
    "template",
    [
        "${workflow.input.missing}",
        "${unknown_task.output.x}",
        "${t1.output.items[5].id}",
        "${t1.output.items.id}",  # a property of a list
        "${workflow.input.x[0]}",  # an index into a number
        "${t1.output.items[?(@.price >}",  # invalid path
        "${..id}",  # would need every root: not supported
    ],
)
def test_missing_or_invalid_path_yields_none(template: str) -> None:
    assert resolve(template, lookup) is None


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("hi ${workflow.input.name}!", "hi Ann!"),
        ("${workflow.input.name}${workflow.input.x}", "Ann1"),
        ("n=${workflow.input.x}", "n=1"),
        ("v=${workflow.input.none}", "v=null"),
        ("v=${workflow.input.missing}", "v=null"),
        ("f=${workflow.input.flag}", "f=true"),
        ("r=${workflow.input.ratio}", "r=1.5"),
        ("b=${workflow.input.big}", "b=1.0E10"),
        ("o=${workflow.input.obj}", "o={a=1, b=[1, 2]}"),
        ("l=${t1.output.items[*].id}", "l=[7, 8]"),
        (" ${workflow.input.x}", " 1"),
    ],
)
def test_expressions_inside_text_interpolate_as_java_prints_them(
    template: str, expected: str
) -> None:
    assert resolve(template, lookup) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$${workflow.input.x}", "${workflow.input.x}"),
        ("cost: $${price} for ${workflow.input.name}", "cost: ${price} for Ann"),
        ("${}", ""),
        ("a ${ } b", "a  b"),
        ("${workflow.input.x", "${workflow.input.x"),  # unbalanced: literal
        ("price in $ only", "price in $ only"),
        ("{not an expression}", "{not an expression}"),
    ],
)
def test_escapes_blank_and_unbalanced_expressions(template: str, expected: Any) -> None:
    assert resolve(template, lookup) == expected


def test_nested_expression_resolves_inner_first() -> None:
    assert resolve("${workflow.input.${workflow.input.key}}", lookup) == 1
    assert resolve("v=${workflow.input.${workflow.input.key}}", lookup) == "v=1"


def test_walks_dicts_and_lists_and_leaves_non_strings_alone() -> None:
    template = {
        "a": "${workflow.input.x}",
        "b": ["${workflow.input.name}", 2, None, {"c": "${t1.output.items[1].id}"}],
        "d": 4.5,
        "e": False,
    }
    assert resolve(template, lookup) == {
        "a": 1,
        "b": ["Ann", 2, None, {"c": 8}],
        "d": 4.5,
        "e": False,
    }


def test_keys_are_not_resolved() -> None:
    assert resolve({"${workflow.input.x}": 1}, lookup) == {"${workflow.input.x}": 1}


def test_constant_subtrees_are_returned_without_copying() -> None:
    constant = {"a": [1, "two", {"b": "plain $ text"}]}
    assert resolve(constant, lookup) is constant
    mixed = {"const": constant, "v": "${workflow.input.x}"}
    assert resolve(mixed, lookup)["const"] is constant


def test_only_the_named_roots_are_looked_up() -> None:
    asked: list[str] = []

    def spy(root: str) -> Any:
        asked.append(root)
        return lookup(root)

    resolve({"a": "${workflow.input.x}", "b": "${t1.output.items[*].id}"}, spy)
    assert sorted(asked) == ["t1", "workflow"]


def test_secrets_are_left_verbatim_for_hand_off() -> None:
    template = {
        "token": "${workflow.secrets.api_token}",
        "header": "Bearer ${workflow.secrets.api_token} for ${workflow.input.name}",
    }
    resolved = resolve(template, lookup)
    assert resolved == {
        "token": "${workflow.secrets.api_token}",
        "header": "Bearer ${workflow.secrets.api_token} for Ann",
    }
    assert has_secrets(resolved)


def test_secret_named_by_a_nested_expression_keeps_its_resolved_name() -> None:
    assert resolve("${workflow.secrets.${workflow.input.name}}", lookup) == (
        "${workflow.secrets.Ann}"
    )


def test_resolve_secrets_substitutes_at_hand_off() -> None:
    secrets = {"api_token": "s3cr3t", "db": '{"user": "app", "port": 5432}'}
    value = {
        "token": "${workflow.secrets.api_token}",
        "header": "Bearer ${workflow.secrets.api_token}",
        "port": "${workflow.secrets.db.port}",
        "unknown": "${workflow.secrets.nope}",
        "unknown_in_text": "x${workflow.secrets.nope}y",
        "list": ["${workflow.secrets.db.user}", 3],
    }
    assert resolve_secrets(value, secrets.get) == {
        "token": "s3cr3t",
        "header": "Bearer s3cr3t",
        "port": 5432,
        "unknown": None,
        "unknown_in_text": "xy",
        "list": ["app", 3],
    }
    assert not has_secrets(resolve_secrets(value, secrets.get))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", False),
        ({"a": ["${workflow.input.x}"]}, False),
        ({"a": [1, {"b": "${workflow.secrets.k}"}]}, True),
        (7, False),
    ],
)
def test_has_secrets_finds_references_anywhere(value: Any, expected: bool) -> None:
    assert has_secrets(value) is expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (0.1, "0.1"),
        (2.0, "2.0"),
        (1e7, "1.0E7"),
        (1.25e-5, "1.25E-5"),
        (-3.5e20, "-3.5E20"),
        (float("nan"), "NaN"),
        ([None, True, "s"], "[null, true, s]"),
        ({}, "{}"),
    ],
)
def test_to_text_prints_like_java(value: Any, text: str) -> None:
    assert to_text(value) == text
