"""API conventions shared by every domain's JSON endpoints.

- Blueprints come from `api_blueprint(name)`: mounted under `/api/v1`, documented in the OpenAPI 3.1 document at
  `/api/openapi.json` (flask-openapi3 generates it from the same pydantic models that validate requests).
- Request bodies and query models subclass `StrictModel`: unknown fields are rejected, and the input rules of
  `governance.inputs` hold for every field (no control characters, ISO 8601 timestamps with a time zone,
  64-bit integers).
- Bodies are UTF-8 JSON without duplicate keys; URLs, query strings and forms carry no control characters;
  an API route takes only the query parameters its query model declares.
- Every error body is `{"error": code, "message": text, "fields": {...}}` (`ErrorBody`); a field the client
  named but the schema does not know is named by position (`(unknown 1)`), never by the client's text.
"""

from __future__ import annotations

import datetime as dt
import json
import typing
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from flask import Flask, Response, current_app, has_request_context, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.wrappers import Request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from werkzeug.exceptions import RequestEntityTooLarge

from governance import inputs, jsoncodec
from governance.errors import DomainError, InvalidRequestError

F = TypeVar("F", bound=Callable[..., Any])

API_PREFIX = "/api/v1"
# JSON endpoints: the API, and OpenID AuthZEN's fixed paths (`/access/v1/evaluation`, docs/standards.md).
AUTHZEN_PREFIX = "/access/v1/"
JSON_PREFIXES = (API_PREFIX, AUTHZEN_PREFIX)
JSON_METHODS = {"POST", "PUT", "PATCH"}


_SCHEMA_CACHE: dict[type[BaseModel], Mapping[str, Any]] = {}


def _read_only(value: Any) -> Any:
    """`value` (JSON-shaped) with every dict a read-only mapping and every list a tuple."""
    if isinstance(value, dict):
        return MappingProxyType({key: _read_only(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_read_only(item) for item in value)
    return value


# Every field name a request model declares: schema vocabulary, safe to name in an error (a client's own
# keys are named by position instead).
DECLARED_FIELD_NAMES: set[str] = set()


def _mentions_datetime(annotation: Any) -> bool:
    if annotation is dt.datetime:
        return True
    return any(_mentions_datetime(arg) for arg in typing.get_args(annotation))


class StrictModel(BaseModel):
    """Base for request bodies and query models: unknown fields are errors, strings are stripped, and every
    field follows the input rules of `governance.inputs` (checked before pydantic's own coercion, so a number
    is never read as a Unix time)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    _timestamp_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._timestamp_fields = frozenset(
            name for name, field in cls.model_fields.items() if _mentions_datetime(field.annotation)
        )
        for name, field in cls.model_fields.items():
            DECLARED_FIELD_NAMES.update(n for n in (name, field.alias) if n)

    @field_validator("*", mode="before")
    @classmethod
    def _input_rules(cls, value: Any, info: ValidationInfo) -> Any:
        inputs.check_value(value, text_checked=has_request_context() and request.environ.get(_BODY_SCANNED, False))
        if value is not None and info.field_name in cls._timestamp_fields:
            return inputs.parse_timestamp(value)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _integer_range(cls, value: Any) -> Any:
        """Query strings reach pydantic as text: the 64-bit bound is checked again on the parsed integer."""
        if type(value) is int:
            inputs.check_integers(value)
        return value

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """flask-openapi3 regenerates a query model's JSON schema on every request (to find its list fields),
        about a third of a small route's CPU; the default-arguments schema is computed once per class and handed
        out read-only (nested read-only mappings and tuples; flask-openapi3 only reads it), instead of a deep
        copy per request (~30 deepcopy calls, 2-3 % of a consent check's CPU). Writing to it raises TypeError."""
        if args or kwargs:
            return super().model_json_schema(*args, **kwargs)
        cached = _SCHEMA_CACHE.get(cls)
        if cached is None:
            cached = _SCHEMA_CACHE[cls] = _read_only(super().model_json_schema())
        return cached  # type: ignore[return-value]  # a read-only mapping: pydantic's signature says dict


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def dump(model: type[BaseModel], value: Any) -> dict[str, Any]:
    """`value` (a service view: a dataclass, an ORM row, or a mapping of them) in the JSON form of `model`, the
    route's declared response model: what the OpenAPI document says is what the client gets, datetimes in
    RFC 3339, and nothing the model does not declare."""
    return model.model_validate(value, from_attributes=True).model_dump(mode="json")


class ErrorBody(BaseModel):
    error: str
    message: str
    fields: dict[str, str] | None = None
    request_id: str | None = None


# Error responses every operation can give are added to the document by `governance.openapi` (from the route's
# declaration and method); a route declares only its domain statuses, e.g. `responses={409: ErrorBody}`.


IDEMPOTENCY_ATTR = "_governance_idempotency_key"


def idempotent_write(view: F) -> F:
    """Mark a route whose writes take an `Idempotency-Key` header (governance.openapi documents it as required)."""
    setattr(view, IDEMPOTENCY_ATTR, True)
    return view


def api_blueprint(name: str, *, tag: str | None = None, description: str = "") -> APIBlueprint:
    """A blueprint mounted under /api/v1 whose routes all appear in the OpenAPI document under one tag."""
    tags = [Tag(name=tag or name, description=description)]
    return APIBlueprint(f"{name}_api", __name__, url_prefix=API_PREFIX, abp_tags=tags)


def _field_path(loc: tuple[Any, ...], positions: dict[str, int], *, unknown: bool = False) -> str:
    """A dotted path naming declared fields and list indexes; any other key (the client's own text: a dict key
    or an unknown field) is named by its position among such keys in this error report."""
    parts: list[str] = []
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(part, int) or (part in DECLARED_FIELD_NAMES and not (unknown and last)):
            parts.append(str(part))
        else:
            ordinal = positions.setdefault(f"{'.'.join(parts)}\0{part}", len(positions) + 1)
            parts.append(f"(unknown {ordinal})" if unknown and last else f"(key {ordinal})")
    return ".".join(parts) or "body"


# pydantic messages that may quote the input; replaced by a fixed text (the field is still named).
_QUOTING_ERROR_TYPES = frozenset({"value_error", "assertion_error", "url_parsing", "uuid_parsing"})


def validation_error_response(exc: ValidationError) -> Response:
    """flask-openapi3 calls this for request validation errors: 422 with one message per field, no input echoed."""
    fields: dict[str, str] = {}
    positions: dict[str, int] = {}
    unknown = False
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        if error["type"] == "extra_forbidden":
            unknown = True
            fields[_field_path(tuple(error["loc"]), positions, unknown=True)] = "unknown field"
            continue
        path = _field_path(tuple(error["loc"]), positions)
        message = error["msg"]
        if error["type"] in _QUOTING_ERROR_TYPES:
            message = message if _is_fixed_message(message) else "invalid value"
        fields.setdefault(path, message.removeprefix("Value error, "))
    body = {
        "error": "unknown_field" if unknown and len(fields) == 1 else "validation_failed",
        "message": "The request has invalid or unknown fields.",
        "fields": fields,
    }
    response = jsonify(body)
    # OpenID AuthZEN answers a request that is not an evaluation request with 400 "Bad Request" (its section 12)
    response.status_code = 400 if request.path.startswith(AUTHZEN_PREFIX) else 422
    return response


_FIXED_MESSAGES = frozenset(
    {
        "Value error, " + inputs.TEXT_MESSAGE,
        "Value error, " + inputs.TIMESTAMP_MESSAGE,
        "Value error, " + inputs.RANGE_MESSAGE,
        "Value error, " + inputs.INTEGER_MESSAGE,
        "Value error, must be a finite number",
        "Value error, " + inputs.WINDOW_MESSAGE,
    }
)


def _is_fixed_message(message: str) -> bool:
    return message in _FIXED_MESSAGES or message.startswith("Input should be a valid UUID")


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice (which one wins differs between parsers)."""


class BodyEncodingError(ValueError):
    """A JSON body that is not UTF-8."""


class ControlCharacterError(ValueError):
    """A JSON body that writes a control character (or a lone surrogate) as an escape."""


# Set on a request whose JSON body passed `inputs.check_json_document`: its containers need no second scan.
_BODY_SCANNED = "governance.json_body_scanned"


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise DuplicateKeyError("duplicate key")
    return result


def _refuse_constant(_name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


# what `DefaultJSONProvider.response` passes unless pretty-printing (debug mode or `compact = False`)
_COMPACT = {"separators": (",", ":")}


class StrictJSONProvider(DefaultJSONProvider):
    """Reads JSON as RFC 8259 says it should be exchanged: UTF-8 only (json.loads would also guess UTF-16 and
    UTF-32 from the bytes), no duplicate keys, no NaN or Infinity. Writes with orjson (`governance.jsoncodec`):
    Flask's own encoding (sorted keys; dates, dataclasses, UUIDs and `__html__` through `default`), compact and
    UTF-8; a call with arguments of its own (indentation when pretty-printing) takes Flask's encoder.
    `jsonify` asks for compact separators, which is what orjson writes: that call is ours too."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs and kwargs != _COMPACT:
            return super().dumps(obj, **kwargs)
        return jsoncodec.sorted_text(obj, self.default)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if isinstance(s, bytes | bytearray):
            try:
                s = bytes(s).decode("utf-8")
            except UnicodeDecodeError:
                raise BodyEncodingError("not UTF-8") from None
        if s.startswith("\ufeff"):
            raise BodyEncodingError("byte order mark")
        kwargs.setdefault("object_pairs_hook", _object_without_duplicates)
        kwargs.setdefault("parse_constant", _refuse_constant)
        decoded = json.loads(s, **kwargs)
        try:
            inputs.check_json_document(s, decoded)
        except ValueError:
            raise ControlCharacterError("control character") from None
        return decoded


class GovernanceRequest(Request):
    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if isinstance(e, DuplicateKeyError):
            raise InvalidRequestError("A JSON object names the same key twice.", code="duplicate_key")
        if isinstance(e, BodyEncodingError):
            raise InvalidRequestError("The body must be UTF-8 encoded JSON.", code="invalid_encoding")
        if isinstance(e, ControlCharacterError):
            raise InvalidRequestError("A text value contains a control character.", code="invalid_character")
        return super().on_json_loading_failed(e)


def refuse_control_characters() -> None:
    """before_request, first: URLs, query strings and form fields. A control character (NUL...) has no
    meaning there and cannot be stored on PostgreSQL, so it is refused before any view or query sees it."""
    texts = [request.path]
    texts.extend(key for key in request.args)
    texts.extend(value for _, value in request.args.items(multi=True))
    if request.method in JSON_METHODS and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        texts.extend(key for key in request.form)
        texts.extend(value for _, value in request.form.items(multi=True))
    if any(inputs.has_forbidden_characters(text) for text in texts):
        raise InvalidRequestError("The request contains a control character.", code="invalid_character")


def _query_model_of(view: Any) -> type[BaseModel] | None:
    while view is not None:
        try:
            hints = typing.get_type_hints(view)
        except Exception:  # a view whose hints cannot be resolved declares no query model
            hints = {}
        model = hints.get("query")
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model
        view = getattr(view, "__wrapped__", None)
    return None


def _refuse_undeclared_query_parameters() -> None:
    """An API route takes only the query parameters its query model declares (none without a model); the
    model itself refuses unknown ones, so only routes without a model are checked here."""
    if not request.path.startswith(JSON_PREFIXES) or not request.args or request.endpoint is None:
        return
    models: dict[str, type[BaseModel] | None] = current_app.extensions.setdefault("governance.query_models", {})
    if request.endpoint not in models:
        models[request.endpoint] = _query_model_of(current_app.view_functions.get(request.endpoint))
    if models[request.endpoint] is None:
        fields = {f"(unknown {n})": "unknown field" for n in range(1, len(request.args) + 1)}
        raise DomainError("This endpoint takes no query parameters.", code="unknown_field", status=422, fields=fields)


def _refuse_other_charsets() -> None:
    charset = request.mimetype_params.get("charset")
    if charset is not None and charset.strip().lower() not in ("utf-8", "utf8"):
        raise InvalidRequestError(
            "Send the body as UTF-8 (charset=utf-8 or no charset).", code="unsupported_charset", status=415
        )


def guard_request() -> None:
    """before_request, after authorization: the query and body rules of every API route (the URL rule,
    `refuse_control_characters`, runs before authorization: resource factories read the URL)."""
    _refuse_undeclared_query_parameters()
    guard_json_body()


def guard_json_body() -> None:
    """API writes must carry well-formed UTF-8 JSON (or nothing); bad bodies never reach a view."""
    if request.method not in JSON_METHODS or not request.path.startswith(JSON_PREFIXES):
        return
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return
    if not request.is_json:
        raise InvalidRequestError("Send the body as application/json.", code="unsupported_media_type", status=415)
    _refuse_other_charsets()
    try:
        request.get_json(force=False, silent=False, cache=True)
        request.environ[_BODY_SCANNED] = True
    except DomainError:
        raise
    except Exception:  # werkzeug raises BadRequest (or 413 when too large, re-raised below)
        if (
            request.content_length
            and request.max_content_length
            and (request.content_length > request.max_content_length)
        ):
            raise RequestEntityTooLarge() from None
        raise InvalidRequestError("The body is not valid JSON.", code="malformed_json") from None


def init_app(app: Flask) -> None:
    app.json = StrictJSONProvider(app)
    app.request_class = GovernanceRequest
    app.before_request(guard_request)


def file_response(*media_types: str, description: str = "the file") -> dict[str, Any]:
    """An OpenAPI response whose body is a file (not JSON), for `responses={200: file_response(...)}`."""
    schema = {"type": "string", "format": "binary"}
    return {"description": description, "content": {m: {"schema": dict(schema)} for m in media_types}}


def json_object_response(*required: str, description: str = "OK") -> dict[str, Any]:
    """An OpenAPI response with a free-form JSON object that has at least the `required` members."""
    schema: dict[str, Any] = {"type": "object", "required": list(required)} if required else {"type": "object"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}
