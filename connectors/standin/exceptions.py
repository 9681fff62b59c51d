"""Server-side errors of the stand-in, named and coded like Odoo's so every transport reports them faithfully.

Each class carries the dotted `odoo_name` real Odoo puts in JSON-RPC `error.data.name`, the XML-RPC faultCode
(1 application error, 2 UserError family, 3 AccessDenied, 4 AccessError) and the JSON-2 HTTP status.
"""

from __future__ import annotations


class OdooServerException(Exception):
    """Root of the stand-in's Odoo-shaped exceptions."""

    odoo_name = "odoo.exceptions.UserError"
    fault_code = 1
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserError(OdooServerException):
    odoo_name = "odoo.exceptions.UserError"
    fault_code = 2
    http_status = 422


class ValidationError(UserError):
    odoo_name = "odoo.exceptions.ValidationError"


class MissingError(UserError):
    odoo_name = "odoo.exceptions.MissingError"
    http_status = 404


class AccessError(OdooServerException):
    odoo_name = "odoo.exceptions.AccessError"
    fault_code = 4
    http_status = 403


class AccessDenied(OdooServerException):
    odoo_name = "odoo.exceptions.AccessDenied"
    fault_code = 3
    http_status = 401

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class InvalidApiKey(AccessDenied):
    """JSON-2's answer to a missing or unknown bearer key."""

    odoo_name = "werkzeug.exceptions.Unauthorized"

    def __init__(self, message: str = "Invalid apikey") -> None:
        super().__init__(message)


class ProgrammingError(OdooServerException):
    """A bad call (unknown field, model or method, wrong arguments): Python's ValueError/TypeError/KeyError in Odoo."""

    fault_code = 1

    def __init__(self, message: str, builtin: str = "ValueError", http_status: int = 422) -> None:
        super().__init__(message)
        self.odoo_name = f"builtins.{builtin}"
        self.http_status = http_status


class NotFound(OdooServerException):
    """An unknown model or method over JSON-2 (werkzeug NotFound)."""

    odoo_name = "werkzeug.exceptions.NotFound"
    fault_code = 1
    http_status = 404


class SerializationFailure(OdooServerException):
    """What Odoo returns once its 5 server-side retries of a concurrent-update conflict are spent."""

    odoo_name = "psycopg2.errors.SerializationFailure"
    fault_code = 1
    http_status = 500

    def __init__(self, message: str = "could not serialize access due to concurrent update") -> None:
        super().__init__(message)


class InternalServerError(OdooServerException):
    """An unexpected server bug (faultCode 1, HTTP 500)."""

    odoo_name = "builtins.RuntimeError"
    fault_code = 1
    http_status = 500
