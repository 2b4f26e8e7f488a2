"""ORM queries compiled to SQL once, then run again with another id or key.

Django compiles a queryset to SQL every time it runs. For the two queries behind every
signed-in page (the user with profile and token; the user's permissions) compiling cost far
more than running: 450 and 880 µs a page, against about 50 µs each to run the same SQL
(docs/PERFORMANCE.md). A `Precompiled` query is still written with the ORM, so it follows the
models and the database in use; it is compiled once per thread and database with a
placeholder value, and every later run sends that SQL with the real one. Values come back as
the ORM would give them (the backend's converters, e.g. SQLite's text dates to datetimes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.db.models.sql.compiler import SQLCompiler

# No table holds this id; in the compiled parameters it marks where the real id goes.
PLACEHOLDER = -73_409_171


@dataclass(frozen=True)
class _Compiled:
    connection: BaseDatabaseWrapper
    compiler: SQLCompiler
    sql: str
    params: tuple[Any, ...]
    converters: dict[int, Any]


class Precompiled:
    """`build(value)` gives the queryset, a `values_list()` one; `rows(value)` runs it.

    `placeholder` stands for the value while compiling: of the value's type, and one that no
    row holds and no other parameter of the query equals.
    """

    def __init__(self, build: Callable[[Any], QuerySet], placeholder: Any = PLACEHOLDER) -> None:
        self.build = build
        self.placeholder = placeholder
        # Per thread: a compiler holds its thread's connection, which only that thread uses.
        self._local = threading.local()

    def _compiled(self, using: str) -> _Compiled:
        connection = connections[using]
        compiled = self._local.__dict__.get(using)
        if compiled is None or compiled.connection is not connection:
            compiler = self.build(self.placeholder).query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            if self.placeholder not in params:
                raise ValueError("a precompiled query must filter on the value it is given")
            fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
            compiled = _Compiled(
                connection, compiler, sql, tuple(params), compiler.get_converters(fields)
            )
            self._local.__dict__[using] = compiled
        return compiled

    def rows(self, value: Any, using: str = DEFAULT_DB_ALIAS) -> list[tuple[Any, ...]]:
        compiled = self._compiled(using)
        mark = self.placeholder
        params = tuple(value if p == mark else p for p in compiled.params)
        with compiled.connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            return [tuple(r) for r in compiled.compiler.apply_converters(rows, compiled.converters)]
        return rows
