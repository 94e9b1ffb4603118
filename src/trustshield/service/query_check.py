"""Query parameters an endpoint does not take are refused (422 naming them), not ignored.

:func:`known_query_only` is a dependency for a router: a request whose query string names a
parameter the matched endpoint does not declare (in its signature or its dependencies) is
answered 422 with the unknown names and the names it takes, so a misspelt filter
(``src-ip=``) never silently widens what an analyst sees.
"""

from __future__ import annotations

from fastapi import Request

from trustshield.service.errors import ApiError

UNKNOWN = "unknown query parameter{s} {names}: {path} takes {known}"
_known: dict[int, frozenset[str]] = {}


def known_names(route) -> frozenset[str]:
    """The query parameter names ``route`` declares (aliases as the client writes them)."""
    key = id(route)
    if key not in _known:
        names: set[str] = set()
        pending = [route.dependant]
        while pending:  # the endpoint's own parameters and those of its dependencies
            dependant = pending.pop()
            names.update(p.alias for p in dependant.query_params)
            pending.extend(dependant.dependencies)
        _known[key] = frozenset(names)
    return _known[key]


def unknown_query(request: Request) -> ApiError | None:
    """The 422 (``invalid_input``) for a query naming a parameter the endpoint does not take;
    None when every name is known."""
    route = request.scope.get("route")
    if route is None:
        return None
    known = known_names(route)
    unknown = sorted({name for name in request.query_params if name not in known})
    if not unknown:
        return None
    return ApiError(
        422,
        UNKNOWN.format(
            s="s" if len(unknown) > 1 else "",
            names=", ".join(repr(n[:80]) for n in unknown[:10]),
            path=request.url.path[:200],
            known=", ".join(sorted(known)) or "no parameters",
        ),
        code="invalid_input",
        details=[{"field": name[:80], "expected": "no such parameter"} for name in unknown[:20]],
    )


def known_query_only(request: Request) -> None:
    """A router dependency: raises :func:`unknown_query`'s refusal."""
    refusal = unknown_query(request)
    if refusal is not None:
        raise refusal
