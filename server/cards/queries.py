"""The query strings of the cards lists, for the office pages and the office API alike:
the print queue, an office day's print jobs and the blank-card ledger. Every number is bounded
before it reaches SQL."""

from __future__ import annotations

from marshmallow import fields, validate

from server.core import paging
from server.core.models.blanko import RECEIVED, RETURNED, SPOILED, USED
from server.http.body import QueryString

_LIMIT = validate.Range(min=1, max=paging.MAX_LIMIT)
_AGE = validate.Range(min=0, max=150)
_CURSOR = validate.Length(max=200)


class QueueQuery(QueryString):
    """``?kecamatan=61.09.04&age_min=&age_max=&priority=1&after=&limit=``."""

    kecamatan = fields.String(load_default=None, validate=validate.Length(max=20))
    age_min = fields.Integer(load_default=None, validate=_AGE)
    age_max = fields.Integer(load_default=None, validate=_AGE)
    priority = fields.Boolean(load_default=False)
    after = fields.String(load_default=None, validate=_CURSOR)
    limit = fields.Integer(load_default=paging.DEFAULT_LIMIT, validate=_LIMIT)


class JobsQuery(QueryString):
    """``?date=YYYY-MM-DD&after=&limit=``: the print jobs of one office day."""

    date = fields.Date(load_default=None)
    after = fields.String(load_default=None, validate=_CURSOR)
    limit = fields.Integer(load_default=paging.DEFAULT_LIMIT, validate=_LIMIT)


class LedgerQuery(QueryString):
    """``?kind=&from=YYYY-MM-DD&to=YYYY-MM-DD&after=&limit=``: the blank-card ledger."""

    kind = fields.String(load_default=None,
                         validate=validate.OneOf((RECEIVED, USED, SPOILED, RETURNED)))
    since = fields.Date(load_default=None, data_key="from")
    until = fields.Date(load_default=None, data_key="to")
    after = fields.String(load_default=None, validate=_CURSOR)
    limit = fields.Integer(load_default=paging.DEFAULT_LIMIT, validate=_LIMIT)
