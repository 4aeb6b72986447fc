"""Each kind of validation a spec can declare has exactly one registered check builder."""

from __future__ import annotations

import typing

import pytest

from carelake.quality.registry import build_rule, registered, rule
from carelake.spec import NotNull, Validation


def test_every_validation_model_of_the_spec_has_a_check():
    models = set(typing.get_args(typing.get_args(Validation)[0]))
    assert models == set(registered())


def test_a_second_builder_for_one_rule_is_refused():
    with pytest.raises(ValueError, match="NotNull already has a check builder"):
        rule(NotNull)(lambda v, spec: None)


def test_a_validation_without_a_builder_is_a_clear_error():
    with pytest.raises(TypeError, match="no check is registered for validation int"):
        build_rule(3, None)
