"""``shared.schemas.RecordSchema`` with a fast path for its nested payload and attachments.

A push carries up to 1,000 records with about 13 attachments each, and marshmallow's per-field
machinery dominates the cost of checking them. :class:`FastLoader` reads the rules a nested
schema declares (field types and validators) once and checks plain fields directly; fields
with validators of their own or richer types still go through the schema itself. Nothing
is restated here, so the rules cannot drift from ``shared``; and whenever the fast path does not
accept a value, the real schema loads it again, so clients get the shared schema's messages.
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable
from itertools import repeat
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from shared.schemas import AttachmentSchema, EnrollmentPayloadSchema, RecordSchema

#: A predicate on one field value already known to be of the field's type.
Check = Callable[[Any], Any]
Rule = tuple[str, type, tuple[Check, ...]]


class FastLoader:
    """Loads valid input of a hook-free, all-required nested schema quickly; None otherwise."""

    def __init__(self, schema_class: type[Schema]) -> None:
        methods = [name for klass in schema_class.__mro__
                   if issubclass(klass, Schema) and klass is not Schema
                   for name, value in vars(klass).items() if inspect.isfunction(value)]
        if methods:  # a method may hook into loading (pre/post load, validates), never skip it
            raise TypeError(f"{schema_class.__name__} has methods of its own: {methods}")
        schema = schema_class()
        self.rules: list[Rule] = []
        slow: list[str] = []
        for name, field in schema.fields.items():
            if field.data_key not in (None, name) or not field.required or field.allow_none:
                raise TypeError(f"{schema_class.__name__}.{name} is not a plain required field")
            rule = _compile_field(name, field)
            if rule is None:
                slow.append(name)
            else:
                self.rules.append(rule)
        self.keys = frozenset(schema.fields)
        self.slow = tuple(slow)
        # The same schema class, limited to the fields that need marshmallow (and their hooks).
        self.rest = schema_class(only=self.slow) if slow else None

    def load(self, value: Any) -> dict[str, Any] | None:
        """What the schema would load from ``value``, or None when unsure."""
        if type(value) is not dict or value.keys() != self.keys:
            return None
        for key, kind, checks in self.rules:
            item = value[key]
            if type(item) is not kind or not all(check(item) for check in checks):
                return None
        return self._load_rest(value) if self.rest else dict(value)

    def load_many(self, values: Any) -> list[dict[str, Any]] | None:
        """What the schema would load from each of ``values``, or None when unsure."""
        if type(values) is not list or not all(type(value) is dict for value in values):
            return None
        if not all(map(operator.eq, map(dict.keys, values), repeat(self.keys))):
            return None
        # Field by field over the whole list, so that the loops run in C (map, all).
        for key, kind, checks in self.rules:
            column = [value[key] for value in values]
            if not all(map(operator.is_, map(type, column), repeat(kind))):
                return None
            for check in checks:
                if not all(map(check, column)):
                    return None
        if self.rest is None:
            return list(map(dict, values))
        loaded = [self._load_rest(value) for value in values]
        return None if None in loaded else loaded  # type: ignore[return-value]

    def _load_rest(self, value: dict[str, Any]) -> dict[str, Any] | None:
        assert self.rest is not None
        try:
            return {**value, **self.rest.load({key: value[key] for key in self.slow})}
        except ValidationError:
            return None


def _compile_field(name: str, field: fields.Field) -> Rule | None:
    """``(key, exact type, checks)`` for a plain field, or None if it needs marshmallow."""
    if isinstance(field, fields.Integer) and field.strict:
        kind: type = int  # the exact type() check refuses bool, as marshmallow does
    elif type(field) is fields.String:
        kind = str
    else:
        return None
    checks = [_compile_validator(v) for v in field.validators]
    if any(check is None for check in checks):
        return None
    return name, kind, tuple(check for check in checks if check is not None)


def _compile_validator(validator: Any) -> Check | None:
    """A predicate equivalent to one marshmallow validator, or None if unknown."""
    if isinstance(validator, validate.OneOf):
        return frozenset(validator.choices).__contains__
    if isinstance(validator, validate.Regexp):
        return validator.regex.match
    if isinstance(validator, validate.Range):
        return _bounds(validator.min, validator.max, validator.min_inclusive,
                       validator.max_inclusive)
    if isinstance(validator, validate.Length) and validator.equal is None:
        within = _bounds(validator.min, validator.max, True, True)
        return lambda value: within(len(value))
    return None


def _bounds(low: Any, high: Any, low_inclusive: bool, high_inclusive: bool) -> Check:
    above = (operator.ge if low_inclusive else operator.gt) if low is not None else None
    below = (operator.le if high_inclusive else operator.lt) if high is not None else None
    return lambda value: (above is None or above(value, low)) and (
        below is None or below(value, high)
    )


ATTACHMENT = FastLoader(AttachmentSchema)
PAYLOAD = FastLoader(EnrollmentPayloadSchema)


class _FastAttachments(fields.List):
    """A list of attachments; any item the fast path refuses sends the list to marshmallow."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        loaded = ATTACHMENT.load_many(value)
        if loaded is not None:
            return loaded
        return super()._deserialize(value, attr, data, **kwargs)


class _FastPayload(fields.Nested):
    """The resident's card data; refused by the fast path means loaded by marshmallow."""

    def _deserialize(self, value: Any, attr: Any, data: Any, partial: Any = None,
                     **kwargs: Any) -> Any:
        loaded = PAYLOAD.load(value)
        if loaded is not None:
            return loaded
        return super()._deserialize(value, attr, data, partial=partial, **kwargs)


def _like(name: str) -> dict[str, Any]:
    """The declared options of a ``RecordSchema`` field, to keep them when overriding it."""
    declared = RecordSchema().fields[name]
    return {"required": declared.required, "validate": declared.validators}


class IngestRecordSchema(RecordSchema):
    """The shared record schema: same rules and messages, quicker on valid records."""

    payload = _FastPayload(EnrollmentPayloadSchema, **_like("payload"))
    attachments = _FastAttachments(fields.Nested(AttachmentSchema), **_like("attachments"))
