"""What every model of the contract is built on: its base, and unions told apart by ``type``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Union, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, GetCoreSchemaHandler, Tag
from pydantic_core import CoreSchema, PydanticCustomError

UNKNOWN_TYPE = "unknown_type"


def tag_of(value: Any) -> str | None:
    """The union member ``value`` belongs to, named ``field=value`` after its ``type`` (or ``status``)."""
    for field in ("type", "status"):
        found = value.get(field) if isinstance(value, Mapping) else getattr(value, field, None)
        if isinstance(found, str):
            return f"{field}={found}"
    return None


def member_tag(member: type[BaseModel]) -> str:
    """The tag :func:`tag_of` gives the values of ``member``: a model whose literal ``type`` (or
    ``status``) names it."""
    field = "type" if "type" in member.model_fields else "status"
    return f"{field}={get_args(member.model_fields[field].annotation)[0]}"


class OneOf:
    """Marks ``Annotated[A | B | ..., ONE_OF]``: a union of models told apart by their ``type``.

    Pydantic puts the tag of a discriminated union into error locations. Tags spelt
    ``type=<value>`` can never be field names, so the request's problems drop them and report
    ``template.components[1].parameters[0].currency.code`` rather than a path with
    ``currency`` twice, which a tag equal to the ``type`` value would produce.
    """

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        members: tuple[type[BaseModel], ...] = get_args(source)
        tagged: list[Any] = []
        types: list[str] = []
        for member in members:
            tag = member_tag(member)
            tagged.append(Annotated[member, Tag(tag)])
            if tag.startswith("type="):
                types.append(repr(get_args(member.model_fields["type"].annotation)[0]))
        rule = "must be one of " + ", ".join(types)
        if len(types) < len(members):
            rule += " (or no type and status 'read' to mark a message as read)"
        return handler.generate_schema(
            Annotated[
                Union[tuple(tagged)],  # noqa: UP007 (built at run time, cannot be spelt with |)
                Discriminator(
                    tag_of,
                    custom_error_type=UNKNOWN_TYPE,
                    custom_error_message=rule,
                ),
            ]
        )


ONE_OF = OneOf()


class ContractModel(BaseModel):
    # Built on first use: only the request's root (a TypeAdapter, SendBatch) is ever validated,
    # and each built root holds its parts' validators; building every part's own at import
    # too cost the sender's cold start for validators nothing calls.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def unique(values: Sequence[str], what: str) -> None:
    if len(set(values)) != len(values):
        raise PydanticCustomError("not_unique", "{what} must be unique", {"what": what})
