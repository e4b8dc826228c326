"""Changes to a model's pydantic-core schema that let JSON be read without calling Python.

pydantic-core validates a model natively, but a Python validator makes it turn the model's JSON
into Python objects and call back into Python for every instance, which costs more than the
model itself. These helpers give a model one schema for JSON and another for Python input, and
copy a model's schema with some of its fields read differently, so that what the Python
validators did can be done natively when reading JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

Transform = Callable[[core_schema.ModelSchema], CoreSchema]


def built_schema(model: type[BaseModel]) -> CoreSchema | None:
    """The schema ``model`` was built with, or None while it is being built.

    A parent model's schema asks again for a child's: a ``__get_pydantic_core_schema__`` hook
    then gets the finished schema back from its handler, and must not change it a second time.
    """
    built = model.__dict__.get("__pydantic_core_schema__")
    # Before the model is complete pydantic keeps a placeholder there, which is no dict.
    return cast(CoreSchema, built) if isinstance(built, dict) else None


def by_input(schema: CoreSchema, *, json: Transform, python: Transform) -> core_schema.JsonOrPythonSchema:
    """A model's schema read by ``json(schema)`` from JSON and by ``python(schema)`` from Python.

    Dumps are unchanged (pydantic-core serializes by the Python schema), and so is the JSON Schema.
    """
    if schema["type"] != "model":
        raise TypeError(f"expected a model's schema, not {schema['type']!r}")
    model = cast(core_schema.ModelSchema, {**schema})
    ref = model.pop("ref", None)  # one reference, to the whole
    python_schema = python(model)

    def described_as_from_python(_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(python_schema)  # pydantic would describe the JSON branch, whose reading differs

    return core_schema.json_or_python_schema(
        json_schema=json(model),
        python_schema=python_schema,
        ref=ref,
        metadata={"pydantic_js_functions": [described_as_from_python]},
    )


def with_fields(
    model: core_schema.ModelSchema,
    fields: Mapping[str, core_schema.ModelField],
    *,
    config: Mapping[str, Any] | None = None,
) -> core_schema.ModelSchema:
    """A copy of ``model`` with ``fields`` added or replaced (and its config updated by ``config``)."""
    inner = model["schema"]
    if inner["type"] != "model-fields":
        raise TypeError(f"expected a model's fields, not {inner['type']!r}")
    copy = cast(
        core_schema.ModelSchema,
        {**model, "schema": {**inner, "fields": {**inner["fields"], **fields}}},
    )
    if config:
        copy["config"] = cast(core_schema.CoreConfig, {**model.get("config", {}), **config})
    return copy


def with_field_schema(
    model: core_schema.ModelSchema, name: str, schema: CoreSchema
) -> core_schema.ModelSchema:
    """A copy of ``model`` reading its field ``name`` by ``schema`` (alias and the rest kept)."""
    field = model["schema"]["fields"][name]
    return with_fields(model, {name: cast(core_schema.ModelField, {**field, "schema": schema})})


def with_items_schema(
    model: core_schema.ModelSchema, name: str, items: CoreSchema
) -> core_schema.ModelSchema:
    """A copy of ``model`` reading the items of its list field ``name`` by ``items`` (the list's
    default and constraints kept)."""
    schema: Any = model["schema"]["fields"][name]["schema"]
    if schema["type"] == "default":
        listed = {**schema["schema"], "items_schema": items}
        return with_field_schema(model, name, {**schema, "schema": listed})
    return with_field_schema(model, name, {**schema, "items_schema": items})


def unwrapped(handler: GetCoreSchemaHandler, model: type[BaseModel]) -> CoreSchema:
    """``model``'s schema without the function its model validator wraps it in."""
    schema = handler.resolve_ref_schema(handler.generate_schema(model))
    if schema["type"] not in ("function-wrap", "function-after", "function-before"):
        raise TypeError(f"{model.__name__} has no model validator to leave out")
    return cast(CoreSchema, schema["schema"])
