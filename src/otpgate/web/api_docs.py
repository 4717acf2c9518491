"""A plain HTML page documenting the API, rendered on the server from the OpenAPI document.

No script, no inline style and no CDN: it works under the portal's Content-Security-Policy
and on a closed network. Machines read ``/openapi.json``; this page is for people.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

__all__ = ["render"]

_METHODS = ("get", "post", "put", "patch", "delete")
_CODE = re.compile(r"`([^`]+)`")


def _text(value: object) -> str:
    """Escape, then show `backticked` words as code (the only markup descriptions use)."""
    return _CODE.sub(r"<code>\1</code>", escape(str(value)))


def _ref(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        found = doc.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
        return found if isinstance(found, dict) else {}
    return schema


def _type_of(doc: dict[str, Any], schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_type_of(doc, s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = str(schema.get("type", schema.get("title", "object")))
    if kind == "array":
        return f"array of {_type_of(doc, schema.get('items', {}))}"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else kind


def _rows(rows: list[tuple[str, str, str]]) -> list[str]:
    out = ["<table>", "<tr><th>Name</th><th>Type</th><th>Description</th></tr>"]
    out += [f"<tr><td><code>{n}</code></td><td>{t}</td><td>{d}</td></tr>" for n, t, d in rows]
    out.append("</table>")
    return out


def _parameters(doc: dict[str, Any], op: dict[str, Any]) -> list[str]:
    params = op.get("parameters", [])
    if not params:
        return []
    rows = []
    for p in params:
        required = " (required)" if p.get("required") else ""
        rows.append((
            escape(f"{p['name']}"),
            escape(f"{p.get('in', '')}: {_type_of(doc, p.get('schema', {}))}{required}"),
            _text(p.get("description", "")),
        ))
    return ["<h4>Parameters</h4>", *_rows(rows)]


def _fields(doc: dict[str, Any], schema: dict[str, Any], title: str) -> list[str]:
    schema = _ref(doc, schema)
    props = schema.get("properties", {})
    if not props:
        return []
    required = set(schema.get("required", []))
    rows = [
        (
            escape(name),
            escape(_type_of(doc, prop) + (" (required)" if name in required else "")),
            _text(prop.get("description", "")),
        )
        for name, prop in props.items()
    ]
    return [f"<h4>{escape(title)}</h4>", *_rows(rows)]


def _json_schema(content: dict[str, Any]) -> dict[str, Any]:
    media = content.get("application/json", {})
    schema = media.get("schema", {}) if isinstance(media, dict) else {}
    return schema if isinstance(schema, dict) else {}


def _operation(doc: dict[str, Any], method: str, path: str, op: dict[str, Any]) -> list[str]:
    anchor = escape(op.get("operationId", f"{method}-{path}"))
    out = [
        f'<section id="{anchor}">',
        f"<h3><code>{escape(method.upper())} {escape(path)}</code></h3>",
        f"<p><strong>{_text(op.get('summary', ''))}</strong></p>",
        f"<p>{_text(op.get('description', ''))}</p>",
    ]
    out += _parameters(doc, op)
    body = op.get("requestBody", {}).get("content", {})
    out += _fields(doc, _json_schema(body), "Request body (JSON)")
    responses = op.get("responses", {})
    ok = responses.get("200") or responses.get("201") or {}
    out += _fields(doc, _json_schema(ok.get("content", {})), "Response (JSON)")
    out.append("<h4>Responses</h4>")
    out.append("<ul>")
    out += [
        f"<li><code>{escape(str(status))}</code>: {_text(r.get('description', ''))}</li>"
        for status, r in responses.items()
    ]
    out += ["</ul>", "</section>"]
    return out


def render(doc: dict[str, Any]) -> str:
    """The whole docs page for the ``/api/`` paths of an OpenAPI document."""
    info = doc.get("info", {})
    ops = [
        (method, path, op)
        for path, item in sorted(doc.get("paths", {}).items())
        if path.startswith("/api/")
        for method, op in item.items()
        if method in _METHODS
    ]
    toc = [
        f'<li><a href="#{escape(op.get("operationId", ""))}"><code>{escape(m.upper())} '
        f"{escape(p)}</code></a> {_text(op.get('summary', ''))}</li>"
        for m, p, op in ops
    ]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(str(info.get('title', 'API')))} API</title></head><body><main>",
        f"<h1>{escape(str(info.get('title', 'API')))} JSON API</h1>",
        "<p>Authenticate with an API token created by an administrator: "
        "<code>Authorization: Bearer otpg_…</code>. Errors are JSON "
        "<code>{&quot;error&quot;: code, &quot;message&quot;: text}</code>. The machine-"
        'readable description is <a href="/openapi.json">/openapi.json</a>.</p>',
        "<h2>Endpoints</h2>",
        "<ul>",
        *toc,
        "</ul>",
    ]
    for method, path, op in ops:
        parts += _operation(doc, method, path, op)
    parts.append("</main></body></html>")
    return "\n".join(parts)
