"""``shared.schemas.RecordSchema`` with a fast path for the whole record.

A push carries up to 1,000 records with about 13 attachments each, and marshmallow's per-field
machinery dominates the cost of checking them. :class:`FastLoader` reads the rules a nested
schema declares (field types and validators) once and checks plain fields directly; fields
with validators of their own or richer types still go through the schema itself.
:class:`RecordLoader` does the same for the record around them: its plain fields checked
directly, its payload, attachments and exceptions by fast loaders, any other field by the
field's own ``deserialize``, then the schema's own hooks (``@validates``, ``@validates_schema``,
``@post_load``) called in marshmallow's order. Nothing is restated here, so the rules cannot
drift from ``shared``; and whenever the fast path does not accept a value, the real schema
loads it again, so clients get the shared schema's messages.
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable
from itertools import repeat
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from shared.schemas import (
    AttachmentSchema,
    BiometricExceptionSchema,
    EnrollmentPayloadSchema,
    RecordSchema,
)

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
        # The fields that need marshmallow: each loaded by the field's own code (its type and
        # validators), which is all the schema does for them, having no hooks.
        self.rest = tuple((name, schema.fields[name]) for name in slow)

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
        if not self.rest:
            return list(map(dict, values))
        loaded = [self._load_rest(value) for value in values]
        return None if None in loaded else loaded  # type: ignore[return-value]

    def _load_rest(self, value: dict[str, Any]) -> dict[str, Any] | None:
        loaded = dict(value)
        try:
            for name, field in self.rest:
                loaded[name] = field.deserialize(value[name])
        except ValidationError:
            return None
        return loaded


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
#: Nested schemas the whole-record path loads with a fast loader (one object, or a list).
NESTED: dict[type[Schema], FastLoader] = {
    schema: FastLoader(schema)
    for schema in (AttachmentSchema, BiometricExceptionSchema, EnrollmentPayloadSchema)
}
#: Hook kinds :class:`RecordLoader` runs itself; a schema with any other refuses the fast path.
HOOK_KINDS = frozenset({"validates", "validates_schema", "post_load"})
#: Loads one field's value (already present in the input): its loaded value, or None if unsure.
FieldLoad = Callable[[Any], Any]
_UNSURE = object()


class RecordLoader:
    """Loads a valid record as ``schema_class`` would, without marshmallow's machinery; None
    whenever unsure (then the schema itself loads it, with its messages).

    Built from the schema's declared fields and hooks; a field or hook of a kind it does not
    know makes construction fail (at import), so a new rule can never be skipped.
    """

    def __init__(self, schema_class: type[Schema]) -> None:
        self.schema = schema_class()
        self.required: frozenset[str] = frozenset(
            name for name, field in self.schema.fields.items() if field.required)
        self.known = frozenset(self.schema.fields)
        self.defaults: dict[str, Any] = {}
        self.loads: list[tuple[str, FieldLoad]] = []
        for name, field in self.schema.fields.items():
            if field.data_key not in (None, name) or field.attribute not in (None, name):
                raise TypeError(f"{schema_class.__name__}.{name} is renamed on the wire")
            if not field.required:
                self.defaults[name] = field.load_default
            self.loads.append((name, _field_load(field)))
        # What marshmallow itself calls, in its order. A defaultdict: marshmallow adds an empty
        # entry for each kind it looked up (pre_load, after a first load), so only kinds with
        # hooks count.
        hooks = {kind: entries for kind, entries in self.schema._hooks.items() if entries}
        unknown = set(hooks) - HOOK_KINDS
        if unknown or any(many or options.get("pass_original")
                          for entries in hooks.values() for _, many, options in entries):
            raise TypeError(f"{schema_class.__name__} has hooks the fast path cannot run")
        self.field_checks = [(getattr(self.schema, attr), name)
                             for attr, _, options in hooks.get("validates", [])
                             for name in options["field_names"]]
        self.schema_checks = [getattr(self.schema, attr)
                              for attr, _, _ in hooks.get("validates_schema", [])]
        self.post_loads = [getattr(self.schema, attr) for attr, _, _ in hooks.get("post_load", [])]

    def load(self, raw: Any) -> dict[str, Any] | None:
        """What the schema would load from ``raw``, or None when unsure."""
        if type(raw) is not dict or not self.required <= raw.keys() <= self.known:
            return None
        data: dict[str, Any] = {}
        for name, load in self.loads:
            if name in raw:
                value = load(raw[name])
                if value is _UNSURE:
                    return None
            else:
                default = self.defaults[name]
                value = default() if callable(default) else default
            data[name] = value
        try:
            for check, name in self.field_checks:
                check(data[name], data_key=name)
            for schema_check in self.schema_checks:
                schema_check(data)
            for post_load in self.post_loads:
                data = post_load(data)
        except ValidationError:
            return None
        return data


def _field_load(field: fields.Field) -> FieldLoad:
    """How :class:`RecordLoader` loads one field's present value (``_UNSURE`` when unsure)."""
    rule = _compile_field(field.name or "", field) if field.required else None
    if rule is not None:
        _, kind, checks = rule
        return lambda value: value if type(value) is kind and all(
            check(value) for check in checks) else _UNSURE
    if isinstance(field, fields.Nested) and not field.allow_none and not field.validators:
        one = NESTED.get(type(field.schema))
        if one is not None:
            return lambda value: _or_unsure(one.load(value))
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        many = NESTED.get(type(field.inner.schema))
        compiled = [_compile_validator(v) for v in field.validators]
        checks = tuple(check for check in compiled if check is not None)
        if many is not None and not field.allow_none and len(checks) == len(compiled):
            return _list_load(many, checks)
    if type(field) in (fields.String, fields.AwareDateTime):
        return _deserialized(field)  # allow_none, or a richer type: the field's own code
    raise TypeError(f"{field.name}: no fast path for {type(field).__name__}")


def _list_load(loader: FastLoader, checks: tuple[Check, ...]) -> FieldLoad:
    def load(value: Any) -> Any:
        items = loader.load_many(value)
        if items is None or not all(check(items) for check in checks):
            return _UNSURE
        return items
    return load


def _deserialized(field: fields.Field) -> FieldLoad:
    def load(value: Any) -> Any:
        try:
            return field.deserialize(value)
        except ValidationError:
            return _UNSURE
    return load


def _or_unsure(value: Any) -> Any:
    return _UNSURE if value is None else value


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


#: The whole-record fast path: what ``RecordSchema`` loads, or None (then load it with
#: :class:`IngestRecordSchema` for the messages).
RECORD = RecordLoader(RecordSchema)
